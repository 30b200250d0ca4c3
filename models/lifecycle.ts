/**
 * Process life cycle shared by the server and worker entries: one graceful
 * shutdown on SIGINT, SIGTERM, or (when `npm start` supervises the process)
 * the end of the launcher's stdin pipe, which also happens when the launcher
 * is killed with SIGKILL. Node-only.
 */
import { POLICY } from './config.ts';
import type { Logger } from './log.ts';

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
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (process.env.LOUPE_SUPERVISED === '1') {
    process.stdin.on('end', () => void shutdown('launcher gone'));
    process.stdin.on('error', () => void shutdown('launcher gone'));
    process.stdin.resume();
  }
}
