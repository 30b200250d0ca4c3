/**
 * Living through a database outage: what a lost or refused connection looks
 * like ({@link isDatabaseUnavailable}), a write retried until the database is
 * back ({@link retryWhileUnavailable}), a wait for it ({@link untilReachable}),
 * and the process-wide guard of the server and worker entries
 * ({@link guardAgainstOutages}): an error whose cause is a lost database is
 * logged and survived, anything else still ends the process.
 *
 * PostgreSQL going away (restarted, killed, a network cut) is a state the
 * processes wait out: the pools reconnect on their own once it answers again.
 */
import type pg from 'pg';
import { launcherGoneSignal } from '../models/lifecycle.ts';
import { errorForLog, type Logger } from '../models/log.ts';

/** Socket errors of a connection that was refused, reset or cut. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTCONN']);

/**
 * SQLSTATEs of a server that is going away or not yet there: 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up,
 * in recovery), and the connection exceptions of class 08.
 */
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03']);

/** What node-postgres and pg-pool say when a connection is lost or cannot be made in time. */
const LOST_MESSAGES = [
  /Connection terminated/i, // 'Connection terminated unexpectedly', '… due to connection timeout'
  /timeout exceeded when trying to connect/i, // pg-pool's connectionTimeoutMillis
  /Client has encountered a connection error and is not queryable/i,
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)/i,
];

function looksUnavailable(e: object): boolean {
  const { code, message } = e as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SHUTDOWN_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  return typeof message === 'string' && LOST_MESSAGES.some((re) => re.test(message));
}

/**
 * True when `err` (or an error it wraps: drizzle's `cause`, an
 * AggregateError's `errors`, pg-boss's copy of an error as a plain object)
 * says the database cannot be reached now: refused, reset or dropped
 * connections, a server shutting down or starting up, a pool that could not
 * connect in time. A query the database refused (a constraint, a syntax
 * error) is not.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): boolean => {
    if (!e || typeof e !== 'object' || depth > 6 || seen.has(e)) return false;
    seen.add(e);
    if (looksUnavailable(e)) return true;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    if (walk(cause, depth + 1)) return true;
    return Array.isArray(errors) && errors.some((x) => walk(x, depth + 1));
  };
  return walk(err, 0);
}

/**
 * Why the database is unreachable, in words that hold no SQL, values or
 * addresses: `connection refused`, `connection lost`, `starting up (SQLSTATE
 * 57P03)`…; `unknown reason` when `err` is not a connection error.
 */
export function unavailableReason(err: unknown): string {
  type Found = { code?: unknown; message?: unknown };
  let found: Found | undefined;
  const walk = (e: unknown, depth: number): void => {
    if (found || !e || typeof e !== 'object' || depth > 6) return;
    if (looksUnavailable(e)) found = e as Found;
    walk((e as { cause?: unknown }).cause, depth + 1);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const x of errors) walk(x, depth + 1);
  };
  walk(err, 0);
  const code = typeof found?.code === 'string' ? found.code : undefined;
  const message = typeof found?.message === 'string' ? found.message : '';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /Connection terminated unexpectedly|not queryable/i.test(message)) return 'connection lost';
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) return 'connection timed out';
  if (code === '57P01' || code === '57P02' || /shutting down/i.test(message)) return `shutting down${code ? ` (SQLSTATE ${code})` : ''}`;
  if (code === '57P03' || /starting up|recovery mode|not yet accepting/i.test(message)) return `starting up${code ? ` (SQLSTATE ${code})` : ''}`;
  if (code) return /^[0-9A-Z]{5}$/.test(code) ? `connection failed (SQLSTATE ${code})` : `network error (${code})`;
  return found ? 'connection lost' : 'unknown reason';
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Backoff between attempts while the database is away, ms: 250, 500, 1000 … up to this. */
const MAX_RETRY_DELAY_MS = 5_000;

export interface RetryOptions {
  /** what is retried, for the log (`metric point`) */
  what: string;
  log: Logger;
  /** stops the retries: the last error is thrown */
  signal?: AbortSignal;
}

/**
 * Runs `write` and, while it fails because the database cannot be reached,
 * runs it again with backoff (250 ms doubling to 5 s) until it succeeds or
 * `signal` aborts. Logs the first failure and the recovery, not each attempt.
 * Any other error is thrown at once. `write` must be idempotent: a connection
 * lost after the commit but before the answer makes it run twice.
 *
 * @example
 * await retryWhileUnavailable(() => upsertMetrics(db, id, points), { what: 'metric points', log, signal });
 */
export async function retryWhileUnavailable<T>(write: () => Promise<T>, opts: RetryOptions): Promise<T> {
  let delay = 250;
  let failedSince: number | undefined;
  for (;;) {
    try {
      const result = await write();
      if (failedSince !== undefined) opts.log.info(`database back: ${opts.what} went through`, { waitedS: Math.round((Date.now() - failedSince) / 100) / 10 });
      return result;
    } catch (err) {
      if (!isDatabaseUnavailable(err) || opts.signal?.aborted) throw err;
      if (failedSince === undefined) {
        failedSince = Date.now();
        opts.log.warn(`database unreachable (${unavailableReason(err)}): ${opts.what} retried until it is back`);
      }
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err;
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    }
  }
}

/**
 * A process's first database step (its migrations), run again while the
 * database cannot be reached: a server or worker started while PostgreSQL is
 * down or restarting waits for it instead of exiting. Under `npm start`
 * (LOUPE_SUPERVISED=1) the wait ends, with the last error, if the launcher goes
 * away meanwhile (its stdin pipe closes), so that nothing is left behind.
 */
export async function retryAtStart<T>(step: () => Promise<T>, log: Logger): Promise<T> {
  return retryWhileUnavailable(step, { what: 'start-up', log, signal: launcherGoneSignal() });
}

/**
 * Resolves once `pool` answers `SELECT 1` (at once when it does), probing with
 * backoff meanwhile, or when `signal` aborts. Never throws.
 */
export async function untilReachable(pool: pg.Pool, opts: { log: Logger; signal?: AbortSignal; what?: string }): Promise<void> {
  await retryWhileUnavailable(
    () => pool.query('SELECT 1'),
    { what: opts.what ?? 'a connection', log: opts.log, signal: opts.signal },
  ).catch(() => undefined);
}

/**
 * A log line per outage, not per failed poll: the first database-unavailable
 * error is logged as a warning, the rest are dropped until `restored()` (or
 * `quietMs` have passed, when it is logged again as still going on).
 */
export function outageLogger(log: Logger, what: string, quietMs = 60_000): { failed(err: unknown): void; restored(): void } {
  let since: number | undefined;
  let lastLogged = 0;
  return {
    failed(err) {
      const now = Date.now();
      if (since !== undefined && now - lastLogged < quietMs) return;
      if (since === undefined) since = now;
      lastLogged = now;
      log.warn(`${what}: database unreachable (${unavailableReason(err)}); retrying`, since === now ? undefined : { forS: Math.round((now - since) / 1000) });
    },
    restored() {
      if (since === undefined) return;
      log.info(`${what}: database reachable again`, { afterS: Math.round((Date.now() - since) / 100) / 10 });
      since = undefined;
    },
  };
}

/**
 * The process-wide guard of a long-running entry (server, worker): an
 * unhandled rejection or uncaught exception whose cause is a lost database
 * (pg-boss completes jobs without awaiting the promise; a client's 'error'
 * may have no listener) is logged and the process goes on, since the pools
 * reconnect by themselves. Any other is logged with its stack and ends the
 * process with exit code 1, as Node would.
 */
export function guardAgainstOutages(log: Logger): void {
  const outage = outageLogger(log, 'a background database call failed', 10_000);
  const handle = (kind: string) => (err: unknown) => {
    if (isDatabaseUnavailable(err)) {
      outage.failed(err);
      return;
    }
    log.error(`${kind}; exiting`, { error: errorForLog(err, { stack: true }) });
    process.exit(1);
  };
  process.on('unhandledRejection', handle('unhandled promise rejection'));
  process.on('uncaughtException', handle('uncaught exception'));
}
