/**
 * The case runner of the file-parser fuzzers (the *.fuzz.test.ts files beside
 * each parser in models/): small valid files of each format Loupe reads from
 * untrusted hands, mutated with a fixed seed (mutations.ts beside this file),
 * then parsed. Each case must either parse or throw the module's own error
 * class with a message (SafetensorsError, TokenizerError, DatasetError,
 * SaeFormatError), within a time bound (a hang fails the case), without a
 * giant allocation (the process's array buffers stay bounded), and leave
 * nothing behind on disk when it fails. Every failure is collected and
 * reported with its case before the test fails.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

/** The seed the fuzzers' cases start from (each parser adds its own offset): the same cases on every run. */
export const FUZZ_SEED = 1_104_2025;
/** A case that takes longer than this fails (a hang, or quadratic work on a small file), ms. */
const CASE_MS = 3000;
/** Array buffers the process may hold beyond its baseline at any check, bytes: a lying length field must not be believed. */
const MAX_BUFFER_GROWTH = 512 * 1024 ** 2;

/** Folders for cases under one temporary folder; `remove()` (for afterAll) deletes them all. */
export function caseDirs(prefix: string): { next(): string; remove(): void } {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  let caseNo = 0;
  return {
    next() {
      const d = path.join(root, `case-${caseNo++}`);
      mkdirSync(d, { recursive: true });
      return d;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A case that neither parsed nor was refused properly: the parser, the case, and what went wrong. */
export interface CaseFailure {
  parser: string;
  what: string;
  error: string;
}

/**
 * Runs one case: `run` must resolve, or reject with an error that `expected`
 * accepts (the module's own class, with a message); not within
 * {@link CASE_MS} (an async hang is cut off by a timer; a synchronous one is
 * measured when it ends) is a failure too.
 */
async function runCase(failures: CaseFailure[], parser: string, what: string, run: () => Promise<unknown>, expected: (err: unknown) => boolean, baseline: number): Promise<'ok' | 'refused' | 'failed'> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CASE_MS} ms`)), CASE_MS);
  });
  let outcome: 'ok' | 'refused' | 'failed' = 'ok';
  try {
    await Promise.race([run(), timeout]);
  } catch (err) {
    if (expected(err) && (err as Error).message.length > 0) outcome = 'refused';
    else {
      outcome = 'failed';
      const e = err as Error;
      failures.push({ parser, what, error: `${e?.name ?? typeof err}: ${e?.message ?? String(err)}\n    ${(e?.stack ?? '').split('\n').slice(1, 4).join('\n    ')}` });
    }
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  if (outcome !== 'failed' && ms > CASE_MS) {
    outcome = 'failed';
    failures.push({ parser, what, error: `took ${Math.round(ms)} ms (over ${CASE_MS})` });
  }
  const grown = process.memoryUsage().arrayBuffers - baseline;
  if (grown > MAX_BUFFER_GROWTH) {
    outcome = 'failed';
    failures.push({ parser, what, error: `array buffers grew by ${Math.round(grown / 1024 ** 2)} MiB` });
  }
  return outcome;
}

/** Logs a fuzzer's counts and time; returns one line per distinct failure (by its error's first line), with the first case that gave it. */
function report(name: string, failures: CaseFailure[], counts: Record<string, number>, ms: number): string[] {
  console.log(`${name}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')} in ${Math.round(ms)} ms`);
  const seen = new Map<string, CaseFailure & { count: number }>();
  for (const f of failures) {
    const key = `${f.parser}: ${f.error.split('\n')[0]!.replace(/\/tmp\/\S+/g, '<file>').slice(0, 200)}`;
    const s = seen.get(key);
    if (s) s.count++;
    else seen.set(key, { ...f, count: 1 });
  }
  return [...seen].map(([key, f]) => `${key} (${f.count}×)\n  case: ${f.what.slice(0, 600)}\n  ${f.error.split('\n').slice(1).join('\n  ')}`);
}

/**
 * One parser's fuzzing: cases run one by one through {@link runCase} against
 * the array buffers held when it was created, counted, then reported.
 *
 * @example
 * const fuzz = new ParserFuzz('zip', 'zip', (e) => e instanceof DatasetError);
 * for (const c of cases) await fuzz.case(describe(c), () => extractZip(...));
 * fuzz.expectClean({ okAbove: 0, refusedAbove: 0 });
 */
export class ParserFuzz {
  readonly failures: CaseFailure[] = [];
  readonly counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
  private readonly baseline = process.memoryUsage().arrayBuffers;
  private readonly started = performance.now();

  /** `name`: in the report; `parser`: in each failure; `expected`: the errors a refusal may throw. */
  constructor(
    private readonly name: string,
    private readonly parser: string,
    private readonly expected: (err: unknown) => boolean,
  ) {}

  /** Runs case `what` ({@link runCase}), with another parser name or expected errors when `o` gives them, and counts its outcome. */
  async case(what: string, run: () => Promise<unknown>, o: { parser?: string; expected?: (err: unknown) => boolean } = {}): Promise<void> {
    this.counts.cases++;
    this.counts[await runCase(this.failures, o.parser ?? this.parser, what, run, o.expected ?? this.expected, this.baseline)]++;
  }

  /**
   * Logs the counts and the time since creation, then expects no failure (the
   * message lists one line per distinct failure, {@link report}), and more
   * cases than `okAbove` that parsed and than `refusedAbove` that were refused
   * when given.
   */
  expectClean(least: { okAbove?: number; refusedAbove?: number } = {}): void {
    const found = report(this.name, this.failures, this.counts, performance.now() - this.started);
    expect(found, found.join('\n\n')).toEqual([]);
    if (least.okAbove !== undefined) expect(this.counts.ok).toBeGreaterThan(least.okAbove);
    if (least.refusedAbove !== undefined) expect(this.counts.refused).toBeGreaterThan(least.refusedAbove);
  }
}
