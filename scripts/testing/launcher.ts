/**
 * The real `npm start` launcher (scripts/start.ts) in a temporary DATA_DIR on
 * free ports, for end-to-end tests.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type RunningProcess } from './processes.ts';

export interface Launched {
  proc: RunningProcess;
  base: string;
  dataDir: string;
  env: Record<string, string>;
}

/** A fake nvidia-smi printing `count` GPUs whose utilisation changes on every call. */
export function fakeNvidiaSmi(dir: string, count: number): string {
  const file = path.join(dir, 'nvidia-smi');
  const lines = Array.from(
    { length: count },
    (_, i) => `echo "${i}, NVIDIA H100 80GB HBM3, GPU-0000000${i}-aaaa-bbbb-cccc-dddddddddddd, $(( (RANDOM % 90) + 5 )), $(( 20000 + RANDOM % 1000 )), 81559, 4${i}, 1${i}0.5, 700.00, 1980, 2619"`,
  );
  writeFileSync(file, `#!/bin/bash\n${lines.join('\n')}\n`, { mode: 0o755 });
  return file;
}

/** A temporary DATA_DIR that the `postgres` user can traverse when tests run as root. */
export function tempDataDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Starts the launcher and waits for its "running at" banner. */
export async function launch(dataDir: string, extraEnv: Record<string, string> = {}, ports?: { port: number; wsPort: number; pgPort: number }): Promise<Launched> {
  const p = ports ?? { port: await freePort(), wsPort: await freePort(), pgPort: await freePort() };
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(p.port),
    WS_PORT: String(p.wsPort),
    PG_PORT: String(p.pgPort),
    DATABASE_URL: '',
    LOUPE_TOKEN: '',
    ...extraEnv,
  };
  // Its own process group, so that stop('SIGINT') reaches every process as a terminal's Ctrl-C would.
  const proc = startProcess('scripts/start.ts', env, [], { group: true });
  await waitFor(
    'the launcher banner',
    () => {
      if (proc.child.exitCode !== null) throw new Error(`launcher exited:\n${proc.output()}`);
      return /Loupe is running at/.test(proc.output()) ? true : undefined;
    },
    240_000,
    200,
  );
  return { proc, base: `http://127.0.0.1:${p.port}`, dataDir, env };
}

/** Process ids of `pid` and all its descendants (from ps). */
export function processTree(pid: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, parent] of table) if (parent === out[i]) out.push(child);
  return out;
}

/** True while a process exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
