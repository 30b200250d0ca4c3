/**
 * The embedded PostgreSQL killed (kill -9 of the postmaster) in the middle of
 * a training, under the real `npm start` launcher. While it is down (the test
 * holds its port for a moment, so the launcher's first restarts fail and back
 * off, as after a crash that left something behind) the API answers 503
 * `database_unavailable` with Retry-After, and /api/health 503 `unreachable`
 * with no SQL and no pg-boss hint; the server and the worker stay up (same
 * processes, no restart). The launcher restarts PostgreSQL by itself; the
 * training, whose metric writes waited for the database, finishes in its first
 * attempt with every metric point once and no gap.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorBodySchema, healthSchema, jobSchema } from '../models/contracts/api.ts';
import { createdTrainingSchema, metricsPageSchema, trainingSchema } from '../models/contracts/trainings.ts';
import { openDatabase, type Database } from '../db/client.ts';
import { isAlive, launch, tempDataDir, type Launched } from '../scripts/testing/launcher.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { completedExtraction, SMALL_EXTRACTION } from '../scripts/testing/training.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.3.hook_resid_post'];
const STEPS = 300;
const steps = (every: number) => Array.from({ length: STEPS / every }, (_, i) => (i + 1) * every);

/** Pids of the launcher's children running `script`. */
function childrenRunning(launcher: number, script: string): number[] {
  return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(launcher)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((l) => l.includes(script))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Listens on 127.0.0.1:`port` and cuts every connection at once: PostgreSQL's port taken while it is down. */
async function holdPort(port: number): Promise<{ release(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => s.destroy());
  srv.on('connection', (s) => sockets.add(s));
  await waitFor(
    `port ${port} to be free`,
    () =>
      new Promise<true | undefined>((resolve) => {
        srv.once('error', () => resolve(undefined));
        srv.listen(port, '127.0.0.1', () => resolve(true));
      }),
    5_000,
    10,
  );
  return {
    release: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

describe('PostgreSQL killed during a training', () => {
  const dataDir = tempDataDir('loupe-pg-outage-');
  let app: Launched | undefined;
  let database: Database | undefined;
  afterAll(async () => {
    await database?.close();
    if (app) expect(await app.proc.stop('SIGINT', 30_000)).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is restarted by the launcher; meanwhile the API answers 503; the training finishes by itself with every metric once', async () => {
    app = await launch(dataDir, { LOUPE_DEVICE: 'cpu', SAE_TRAIN_CONCURRENCY: '1' });
    const { base } = app;
    const pgPort = Number(app.env.PG_PORT);
    const password = readFileSync(path.join(dataDir, 'pg.password'), 'utf8').trim();
    database = openDatabase(`postgres://loupe:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/loupe`, { onError: () => undefined });

    // Activations of the demo model (registered by the worker) over a slice of the demo text, in DATA_DIR.
    const slice = path.join(dataDir, 'slice');
    const dataset = await insertCompletedDataset(database.db, slice, await tokenizeDemo(slice, 8000));
    const extraction = await completedExtraction(database.db, dataDir, dataset, HOOKS, { ...SMALL_EXTRACTION, tokenBudget: 96 * 64 });

    const api = (p: string, init?: RequestInit) => fetch(`${base}${p}`, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
    const config = { architecture: 'relu', dSae: 256, l1Coefficient: 1, lr: 1e-3, batchSize: 256, totalTokens: STEPS * 256, metricsEvery: 5, checkpointEvery: 50, evalEvery: 50, evalWindows: 0 };
    const res = await api('/api/trainings', { method: 'POST', body: JSON.stringify({ extractionId: extraction.id, hookPoints: HOOKS, config, name: 'through an outage' }) });
    expect(res.status).toBe(202);
    const { training, job } = createdTrainingSchema.parse(await res.json());
    const metrics = async () => metricsPageSchema.parse(await (await api(`/api/trainings/${training.id}/metrics?limit=10000`)).json()).points;

    const launcher = app.proc.child.pid!;
    const [server, worker] = [childrenRunning(launcher, 'server/main.ts'), childrenRunning(launcher, 'workers/main.ts')];
    expect([server.length, worker.length]).toEqual([1, 1]);

    // Killed while the training runs: points stored, not all of them.
    const before = await waitFor('the training to store points past step 20', async () => {
      const points = await metrics();
      return points.some((p) => p.step >= 20) ? points : undefined;
    }, 60_000, 20);
    const postmaster = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    const held = await holdPort(pgPort);
    expect(Math.max(...before.map((p) => p.step))).toBeLessThan(STEPS);

    // Down: a database route and the health check answer 503, truthfully and without internals.
    const down = await waitFor('a 503 from a database route', async () => {
      const r = await api(`/api/trainings/${training.id}`);
      return r.status === 503 ? r : undefined;
    }, 15_000, 50);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(errorBodySchema.parse(await down.json()).error.code).toBe('database_unavailable');
    const healthDown = await api('/api/health');
    expect(healthDown.status).toBe(503);
    expect(healthDown.headers.get('retry-after')).toMatch(/^\d+$/);
    const healthText = await healthDown.text();
    const health = healthSchema.parse(JSON.parse(healthText));
    expect(health).toMatchObject({ status: 'unavailable', database: { ok: false }, queue: { ok: false } });
    expect(health.database.error).toMatch(/^unreachable: /);
    expect(healthText).not.toMatch(/SELECT|pgboss\.|pg-boss is not installed|npm run worker/);
    // the launcher saw it go and is restarting it (its first tries find the port taken)
    await waitFor('a failed restart', () => (/PostgreSQL restart 1 failed/.test(app!.proc.output()) ? true : undefined), 15_000, 50);
    expect(app.proc.output()).toMatch(new RegExp(`PostgreSQL exited unexpectedly; restarting in \\d+ ms pid=${postmaster} signal=SIGKILL`));
    await held.release();

    // Back: restarted by the launcher, the API answers again, and the training completes in its first attempt.
    await waitFor('the health check to answer 200', async () => ((await api('/api/health')).status === 200 ? true : undefined), 60_000, 100);
    await waitFor('the launcher to report the restart', () => (/PostgreSQL restarted pid=\d+ attempts=\d+/.test(app!.proc.output()) ? true : undefined), 10_000, 50);
    const done = await waitFor('the training to complete', async () => {
      const t = trainingSchema.parse(await (await api(`/api/trainings/${training.id}`)).json());
      if (t.status === 'failed') throw new Error(`the training failed: ${t.error}`);
      return t.status === 'completed' ? t : undefined;
    }, 90_000, 200);
    expect(done.error).toBeNull();
    expect(done.progress).toMatchObject({ step: STEPS, resumedAt: 0 });
    expect(jobSchema.parse(await (await api(`/api/jobs/${job.id}`)).json())).toMatchObject({ state: 'completed', retryCount: 0 });

    // Every metric point once, no gap: the ones due during the outage waited and were written when it ended.
    const after = await metrics();
    for (const hook of HOOKS) {
      const mine = after.filter((p) => p.hook === hook);
      expect(mine.filter((p) => p.train).map((p) => p.step), hook).toEqual(steps(5));
      expect(mine.filter((p) => p.eval).map((p) => p.step), hook).toEqual(steps(50));
    }
    const output = app.proc.output();
    expect(output).toMatch(/database unreachable \([^)]+\): metric point retried until it is back/);
    expect(output).toMatch(/database back: metric point went through/);

    // The server and the worker lived through it: the same processes, never restarted.
    expect(childrenRunning(launcher, 'server/main.ts')).toEqual(server);
    expect(childrenRunning(launcher, 'workers/main.ts')).toEqual(worker);
    expect([...server, ...worker].every(isAlive)).toBe(true);
    expect(output).not.toMatch(/(server|worker) exited unexpectedly|keeps crashing|unhandled promise rejection|uncaught exception/);
  });
});
