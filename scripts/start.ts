/**
 * `npm start`: the one-command launcher. Builds the web app when it is
 * missing or stale, starts an embedded PostgreSQL (unless DATABASE_URL is
 * set), applies migrations, then runs the server and one worker as child
 * processes and prints the URL. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the
 * children, then PostgreSQL, and leaves no process behind; so does the end of
 * the `npm start` that ran it (npm dies of a SIGHUP without passing it on).
 * An embedded PostgreSQL that dies (kill -9, a crash) is started again with
 * backoff; the server and worker wait it out (db/outage.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, POLICY } from '../models/config.ts';
import { logger } from '../models/log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/postgres.ts';
import { runMigrations } from '../db/migrate.ts';
import { ensureWebBuilt } from './build-web.ts';

const log = logger('start');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Supervised {
  name: string;
  child: ChildProcess | undefined;
  restarts: number[];
}

async function waitForHttp(url: string, token: string | undefined, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the server exited during start-up (see its log above)');
    try {
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the server did not answer ${url} within ${timeoutMs / 1000} s`);
}

/** Waits until the health endpoint counts a live worker; false after `timeoutMs`. */
async function waitForWorker(url: string, token: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const health = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })
      .then((r) => r.json() as Promise<{ workers?: { active?: number } }>)
      .catch(() => undefined);
    if ((health?.workers?.active ?? 0) > 0) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const config = loadConfig();
  let pg: EmbeddedPostgres | undefined;
  let pgStarting: Promise<EmbeddedPostgres | undefined> = Promise.resolve(undefined);
  const children: Supervised[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const running = children.map((s) => s.child).filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (child) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => child.kill('SIGKILL'), POLICY.SHUTDOWN_GRACE_MS);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    // a stop during PostgreSQL's start waits for it, and stops it too
    const cluster = pg ?? (await pgStarting.catch(() => undefined));
    if (cluster) {
      await cluster.stop();
      log.info('PostgreSQL stopped');
    }
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (!stopping) log.info(`${signal}: stopping Loupe`);
      void stopAll(0);
    });
  }
  // npm passes SIGINT and SIGTERM on to this process, but dies of a SIGHUP (or a SIGKILL) and leaves it behind,
  // re-parented. Under `npm start`, npm going away stops Loupe as the signal would have.
  if (process.env.npm_lifecycle_event === 'start' && process.ppid > 1) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid === parent || stopping) return;
      log.info('npm start has gone away: stopping Loupe');
      void stopAll(0);
    }, 500).unref();
  }

  await ensureWebBuilt();
  if (stopping) return;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const logFile = path.join(config.dataDir, 'logs', 'postgres.log');
    const starting = startEmbeddedPostgres({
      dir: path.join(config.dataDir, 'pg'),
      port: config.pgPort,
      logFile,
      supervise: (e) => {
        if (e.kind === 'exited') log.error(`PostgreSQL exited unexpectedly; restarting in ${e.retryInMs} ms`, { pid: e.pid, code: e.code ?? undefined, signal: e.signal ?? undefined, log: logFile });
        else if (e.kind === 'restart-failed') log.warn(`PostgreSQL restart ${e.attempt} failed; trying again in ${e.retryInMs} ms`, { error: e.error.split('\n').slice(-3).join(' | ') });
        else log.info('PostgreSQL restarted', { pid: e.pid, attempts: e.attempts, downS: Math.round(e.downMs / 100) / 10 });
      },
    });
    pgStarting = starting;
    pg = await starting;
    databaseUrl = pg.url;
    log.info(pg.adopted ? 'PostgreSQL already running, taken over' : 'PostgreSQL started', { port: config.pgPort, data: path.join(config.dataDir, 'pg') });
  }

  try {
    await runMigrations(databaseUrl);
  } catch (err) {
    log.error('database migration failed', { error: err instanceof Error ? err.message : String(err) });
    await stopAll(1);
    return;
  }
  if (stopping) return;

  const env = { ...process.env, DATABASE_URL: databaseUrl, DATA_DIR: config.dataDir };
  const launch = (s: Supervised, script: string, extraEnv: Record<string, string>) => {
    // stdin is a pipe the child watches: if this launcher dies, even by SIGKILL, the child stops too.
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...env, ...extraEnv, LOUPE_SUPERVISED: '1' }, stdio: ['pipe', 'inherit', 'inherit'] });
    s.child = child;
    child.once('exit', (code, signal) => {
      if (stopping) return;
      // Our children exit 0 only when told to stop (a signal to them, or Ctrl-C reaching the whole group): stop the rest.
      if (code === 0) {
        log.info(`${s.name} stopped; stopping Loupe`);
        void stopAll(0);
        return;
      }
      // A crashed child is restarted with backoff; five crashes in five minutes stop Loupe.
      const now = Date.now();
      s.restarts = s.restarts.filter((t) => now - t < 5 * 60_000);
      if (s.restarts.length >= 5) {
        log.error(`${s.name} keeps crashing; stopping Loupe`, { code, signal });
        void stopAll(1);
        return;
      }
      s.restarts.push(now);
      const delay = 500 * 2 ** (s.restarts.length - 1);
      log.warn(`${s.name} exited unexpectedly; restarting in ${delay} ms`, { code, signal });
      setTimeout(() => !stopping && launch(s, script, extraEnv), delay);
    });
  };

  const server: Supervised = { name: 'server', child: undefined, restarts: [] };
  const worker: Supervised = { name: 'worker', child: undefined, restarts: [] };
  children.push(server, worker);
  launch(server, 'server/main.ts', {});
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  try {
    await waitForHttp(`${base}/api/config`, config.token, server.child!, 60_000);
  } catch (err) {
    log.error(`could not start: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
    return;
  }
  // The server samples this host; the worker beside it does not sample again.
  launch(worker, 'workers/main.ts', { LOUPE_SAMPLER: '0' });
  const workerUp = await waitForWorker(`${base}/api/health`, config.token, 60_000);
  if (!workerUp) log.warn('the worker has not reported in yet; jobs wait until it does (see its log above)');

  const shown = config.host === '0.0.0.0' || config.host === '::' ? `http://localhost:${config.port}` : base;
  console.log(`\n  Loupe is running at ${shown}${config.token ? '  (open it once with ?token=<LOUPE_TOKEN>)' : ''}\n  Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s. Press Ctrl-C to stop.\n`);
}

main().catch((err) => {
  log.error(err instanceof ConfigError ? err.message : `could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
