/**
 * Database outages against the real test PostgreSQL, cut and restored through
 * a TCP proxy: which errors mean "unreachable" (and which do not), a write
 * retried until the database is back landing once, and the LISTEN connection
 * coming back and hearing notifications again.
 */
import { spawnSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../models/log.ts';
import { openDatabase, type Database } from './client.ts';
import { listenChannel } from './events.ts';
import { isDatabaseUnavailable, retryWhileUnavailable, unavailableReason, untilReachable } from './outage.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { freePort } from '../scripts/testing/ports.ts';
import { startTcpProxy, type TcpProxy } from '../scripts/testing/tcp-proxy.ts';
import { ROOT, waitFor } from '../scripts/testing/processes.ts';

const log = logger('test');
const caught = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);

describe('database outages', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let viaProxy: Database;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_outage');
    await db.pool.query('CREATE TABLE outage_writes (k int PRIMARY KEY, n int NOT NULL DEFAULT 1)');
    proxy = await startTcpProxy(Number(new URL(db.url).port));
    viaProxy = openDatabase(proxy.via(db.url), { onError: () => undefined });
  });
  afterAll(async () => {
    await viaProxy?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('tells a lost or refused connection from a query the database refused', async () => {
    // refused: nothing listens on the port (a raw driver error, and drizzle's wrapper around it)
    const closed = openDatabase(db.url.replace(/:\d+\//, `:${await freePort()}/`), { onError: () => undefined });
    const refused = await caught(closed.db.execute(sql`SELECT 1`));
    await closed.close();
    expect(isDatabaseUnavailable(refused)).toBe(true);
    expect(unavailableReason(refused)).toBe('connection refused');
    // pg-boss hands its 'error' listeners a copy of the error as a plain object, its message suffixed
    const copy = { ...(refused as Error & { cause: object }).cause, message: `${(refused as Error & { cause: Error }).cause.message} (Queue: q, Worker: w)` };
    expect(isDatabaseUnavailable(copy)).toBe(true);

    // an administrator (or a shutdown) ending the session: SQLSTATE 57P01
    const victim = new pg.Client({ connectionString: db.url });
    victim.on('error', () => undefined);
    await victim.connect();
    const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const ended = caught(victim.query('SELECT pg_sleep(30)'));
    await waitFor('the sleep to start', async () => ((await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%'`, [rows[0]!.pid])).rowCount ? true : undefined));
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    const terminated = await ended;
    await victim.end().catch(() => undefined);
    expect((terminated as { code?: string }).code).toBe('57P01');
    expect(isDatabaseUnavailable(terminated)).toBe(true);

    // a connection cut under a query
    const client = await viaProxy.pool.connect();
    const cut = caught(client.query('SELECT pg_sleep(30)'));
    await new Promise((r) => setTimeout(r, 50));
    await proxy.down();
    const lost = await cut;
    client.release(true);
    await proxy.up();
    expect(isDatabaseUnavailable(lost)).toBe(true);
    expect(unavailableReason(lost)).toBe('connection lost');

    // refused queries are not outages
    await db.pool.query('INSERT INTO outage_writes (k) VALUES (1) ON CONFLICT DO NOTHING');
    const duplicate = await caught(db.db.execute(sql`INSERT INTO outage_writes (k) VALUES (1)`));
    const syntax = await caught(db.db.execute(sql`SELEC 1`));
    expect((duplicate as Error & { cause: { code: string } }).cause.code).toBe('23505');
    expect(isDatabaseUnavailable(duplicate)).toBe(false);
    expect(isDatabaseUnavailable(syntax)).toBe(false);
    expect(isDatabaseUnavailable(new Error('ENOENT: no such file'))).toBe(false);
    expect(unavailableReason(syntax)).toBe('unknown reason');
  });

  it('retries an idempotent write until the database is back, and it lands once', async () => {
    await proxy.down();
    let attempts = 0;
    const write = retryWhileUnavailable(
      async () => {
        attempts++;
        await viaProxy.pool.query('INSERT INTO outage_writes (k) VALUES (2) ON CONFLICT (k) DO NOTHING');
        return 'written';
      },
      { what: 'test row', log },
    );
    await waitFor('two refused attempts', () => (attempts >= 2 ? true : undefined), 10_000, 20);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM outage_writes WHERE k = 2')).rows[0].n).toBe(0);
    await proxy.up();
    expect(await write).toBe('written');
    expect((await db.pool.query('SELECT n FROM outage_writes WHERE k = 2')).rows).toEqual([{ n: 1 }]);
    await untilReachable(viaProxy.pool, { log });

    // another error is thrown at once, not retried
    let tries = 0;
    const refusedQuery = await caught(retryWhileUnavailable(() => (tries++, viaProxy.pool.query('INSERT INTO outage_writes (k) VALUES (2)')), { what: 'test row', log }));
    expect((refusedQuery as { code?: string }).code).toBe('23505');
    expect(tries).toBe(1);

    // an abort ends the retries with the last error
    await proxy.down();
    const ac = new AbortController();
    const aborted = caught(retryWhileUnavailable(() => viaProxy.pool.query('SELECT 1'), { what: 'test row', log, signal: ac.signal }));
    ac.abort();
    expect(isDatabaseUnavailable(await aborted)).toBe(true);
    await proxy.up();
  });

  it('guards a process: a lost database in an unhandled rejection or uncaught exception is survived, anything else still ends it', async () => {
    const refusedUrl = db.url.replace(/:\d+\//, `:${await freePort()}/`);
    /** Runs `body` in a Node process with the guard installed; its exit status and output. */
    const run = (body: string) => {
      const script = `import pg from 'pg'; import { logger } from './models/log.ts'; import { guardAgainstOutages } from './db/outage.ts';
        guardAgainstOutages(logger('guarded')); ${body}; setTimeout(() => { console.log('still running'); process.exit(0); }, 1500);`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, URL: refusedUrl }, timeout: 60_000 });
      return { status: r.status, out: r.stdout + r.stderr };
    };
    // what pg-boss does: a query whose promise nobody awaits, against a database that refuses
    const rejection = run(`void new pg.Pool({ connectionString: process.env.URL }).query('SELECT 1')`);
    expect(rejection.out).toMatch(/database unreachable \(connection refused\)/);
    expect(rejection.out).toMatch(/still running/);
    expect(rejection.status).toBe(0);
    // a client's 'error' nobody listens to: the connection cut under it
    const uncaught = run(`setTimeout(() => new pg.Client({ connectionString: process.env.URL }).emit('error', new Error('Connection terminated unexpectedly')), 10)`);
    expect(uncaught.out).toMatch(/database unreachable \(connection lost\)/);
    expect(uncaught.out).toMatch(/still running/);
    expect(uncaught.status).toBe(0);
    // anything else ends the process, as Node would
    const other = run(`void Promise.reject(new Error('a bug'))`);
    expect(other.status).toBe(1);
    expect(other.out).toMatch(/unhandled promise rejection; exiting.*a bug/);
    expect(other.out).not.toMatch(/still running/);
  });

  it('re-LISTENs after the connection drops and hears notifications again', async () => {
    const heard: string[] = [];
    const statuses: string[] = [];
    const listener = await listenChannel(proxy.via(db.url), 'loupe_outage_test', { onNotification: (p) => void heard.push(p), onStatus: (m) => void statuses.push(m) });
    try {
      await db.pool.query(`SELECT pg_notify('loupe_outage_test', 'before')`);
      await waitFor('the first notification', () => (heard.includes('before') ? true : undefined));
      await proxy.down();
      await waitFor('the loss to be seen', () => (statuses.some((s) => /lost; reconnecting/.test(s)) ? true : undefined));
      await db.pool.query(`SELECT pg_notify('loupe_outage_test', 'during')`); // nobody listens: lost, as NOTIFY is
      await proxy.up();
      await waitFor('the connection to be restored', () => (statuses.some((s) => /restored/.test(s)) ? true : undefined), 20_000);
      await db.pool.query(`SELECT pg_notify('loupe_outage_test', 'after')`);
      await waitFor('a notification after the outage', () => (heard.includes('after') ? true : undefined));
      expect(heard).toEqual(['before', 'after']);
    } finally {
      await listener.close();
    }
  });
});
