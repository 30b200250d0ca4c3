/**
 * Process life cycle shared by the server and worker entries: one graceful
 * shutdown on SIGINT, SIGTERM or SIGHUP, when `npm start` supervises the
 * process on the end of the launcher's stdin pipe (which also happens when
 * the launcher is killed with SIGKILL), and under `npm run worker|server`
 * when npm goes away (npm dies of a SIGHUP without passing it on). Node-only.
 */
import { POLICY } from './config.ts';
import type { Logger } from './log.ts';

let launcher: AbortController | undefined;

/**
 * Under `npm start` (LOUPE_SUPERVISED=1): a signal that aborts when the
 * launcher goes away (its stdin pipe ends, also when it was killed with
 * SIGKILL); undefined otherwise. One watcher for the whole process, so the
 * end of the pipe is never missed: a launcher gone during start-up, before
 * {@link onShutdown} is installed, still stops the process when it is.
 */
export function launcherGoneSignal(): AbortSignal | undefined {
  if (process.env.LOUPE_SUPERVISED !== '1') return undefined;
  if (!launcher) {
    const controller = new AbortController();
    launcher = controller;
    const gone = () => controller.abort();
    process.stdin.on('end', gone);
    process.stdin.on('error', gone);
    process.stdin.resume();
  }
  return launcher.signal;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** a signal received before {@link onShutdown} was installed */
let early: string | undefined;
let installed = false;

/**
 * The first call of an entry's start-up: a stop signal that arrives before
 * {@link onShutdown} is installed (while migrations run, pg-boss starts, the
 * demo is registered…) is kept, and the process stops gracefully as soon as
 * it is; one still starting after POLICY.SHUTDOWN_GRACE_MS exits 1. Without
 * it, Node's default action would kill a half-started worker silently.
 */
export function holdEarlySignals(log: Logger): void {
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      if (installed || early) return;
      early = signal;
      log.info(`${signal} during start-up: stopping once started`);
      setTimeout(() => process.exit(1), POLICY.SHUTDOWN_GRACE_MS).unref();
    });
  }
}

/**
 * Runs `stop` once on the first shutdown request, then exits 0 (or 1 when
 * `stop` throws or takes longer than POLICY.SHUTDOWN_GRACE_MS).
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${reason}: shutting down`);
    const force = setTimeout(() => process.exit(1), POLICY.SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      await stop();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error('shutdown failed', { error: err instanceof Error ? err.stack : String(err) });
      process.exit(1);
    }
  };
  installed = true;
  for (const signal of SIGNALS) process.on(signal, () => void shutdown(signal));
  if (early) void shutdown(early);
  const event = process.env.npm_lifecycle_event;
  if (process.env.LOUPE_SUPERVISED !== '1' && (event === 'worker' || event === 'server') && process.ppid > 1) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) void shutdown(`npm run ${event} has gone away`);
    }, 500).unref();
  }
  const gone = launcherGoneSignal();
  if (gone?.aborted) void shutdown('launcher gone');
  else gone?.addEventListener('abort', () => void shutdown('launcher gone'), { once: true });
}
