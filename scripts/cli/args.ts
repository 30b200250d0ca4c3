/** Shared pieces of the CLI commands in this folder. */

/** Bad usage: the message names the option; the CLI prints the usage and exits 2. */
export class UsageError extends Error {}

export interface Command {
  /** one line: the command and its options */
  usage: string;
  run(args: string[]): Promise<void>;
}

/** Parses a comma-separated list of non-negative integers given to `--option`. */
export function parseIntList(option: string, value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw new UsageError(`${option}: "${p}" is not a non-negative integer (expected e.g. ${option} 1,2,3)`);
    out.push(Number(p));
  }
  return out;
}
