/**
 * Real Loupe processes for end-to-end tests: started with `node --import tsx`,
 * their output collected, stopped with a signal and awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningProcess {
  child: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  /** resolves with the exit code (or signal name) */
  exited: Promise<number | string>;
  /** sends `signal` (to the whole process group when started with `group`, as a terminal's Ctrl-C does) and waits for the exit (SIGKILL after `graceMs`) */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/**
 * Starts `script` (a path relative to the repository root) with extra
 * environment variables. Workers build no first-start demo unless `env` says
 * `LOUPE_DEMO: '1'` (its jobs would load the machine and fill the queues a
 * test watches).
 */
export function startProcess(script: string, env: Record<string, string | undefined>, args: string[] = [], opts: { group?: boolean } = {}): RunningProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    detached: opts.group ?? false,
    env: { ...process.env, LOG_LEVEL: 'info', LOUPE_DEMO: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        const kill = (sig: NodeJS.Signals) => (opts.group ? process.kill(-child.pid!, sig) : child.kill(sig));
        kill(signal);
        const timer = setTimeout(() => {
          try {
            kill('SIGKILL');
          } catch {
            // already gone
          }
        }, graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Waits until GET `url` answers 2xx. */
export function waitForHttp(url: string, proc?: RunningProcess, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<Response> {
  return waitFor(
    `${url} to answer`,
    async () => {
      if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) throw new Error(`process exited:\n${proc.output()}`);
      const res = await fetch(url, { headers }).catch(() => undefined);
      return res?.ok ? res : undefined;
    },
    timeoutMs,
    150,
  );
}
