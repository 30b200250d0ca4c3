/**
 * An `activations.extract` worker killed mid-run (SIGKILL after a shard: no
 * handler, no shutdown, the job left active) through real processes: the
 * next worker takes it for dead (500 ms heartbeats through the test hook
 * `LOUPE_TEST_HEARTBEAT_MS`, so 1.5 s), fails the job through pg-boss, the
 * retry resumes after the last complete shard, and every shard equals an
 * uninterrupted run's (`loupe extract` with the same settings, beside it)
 * byte for byte. pg-boss and a test database stand in for the server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../models/activations/store.ts';
import type { ExtractionSettings } from '../models/contracts/extractions.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { logger } from '../models/log.ts';
import { DEMO_MODEL_DIR } from '../models/model-files.ts';
import type { DatasetRow } from '../db/queries/datasets.ts';
import { getExtraction, insertExtraction, setExtractionJob } from '../db/queries/extractions.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { compareShards, loupe, storeFiles } from '../scripts/testing/activations.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startProcess, waitFor, type RunningProcess } from '../scripts/testing/processes.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { registerDemoModel } from './demo-model.ts';

const QUEUE = 'activations.extract';

describe('an extraction whose worker dies', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let dataset: DatasetRow;
  const workers: RunningProcess[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-extract-resume-'));
  const dataDir = path.join(tmp, 'data');
  const env = () => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', LOUPE_TEST_HEARTBEAT_MS: '500' });

  const startWorker = async (): Promise<RunningProcess> => {
    const proc = startProcess('workers/main.ts', env());
    workers.push(proc);
    await waitFor(
      'the worker to be ready',
      () => {
        if (proc.child.exitCode !== null) throw new Error(`the worker exited (${proc.child.exitCode}):\n${proc.output()}`);
        return /\[worker\] ready id=/.test(proc.output()) || undefined;
      },
      60_000,
      50,
    );
    return proc;
  };

  beforeAll(async () => {
    db = await createTestDatabase('loupe_extract_resume');
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(tmp, 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 12_000));
    boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: 2 });
    boss.on('error', () => undefined);
    await boss.start();
    await boss.createQueue(QUEUE, { name: QUEUE, ...JOB_QUEUES[QUEUE] });
  });
  afterAll(async () => {
    const codes = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    // The first one was killed; the others exit cleanly.
    if (codes.slice(1).some((c) => c !== 0)) for (const [i, w] of workers.entries()) console.error(`--- worker ${i} (exit ${codes[i]}):\n${w.output()}`);
    expect(codes.slice(1)).toEqual(workers.slice(1).map(() => 0));
    await boss?.stop({ graceful: false, wait: true });
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is resumed by the retry after the last complete shard, and every shard equals an uninterrupted run byte for byte', async () => {
    const T = 32;
    const W = 240;
    const hooks = ['blocks.2.hook_resid_post'];
    const settings: ExtractionSettings = { dtype: 'fp32', storage: 'f16', contextLength: T, batchSize: 4, tokenBudget: W * T, stride: null, keepBos: false, prependBos: null, windowsPerShard: 8 };
    const first = await startWorker();
    // The uninterrupted run: `loupe extract` (the same runExtraction) with the same settings, beside the job.
    const whole = path.join(tmp, 'whole');
    const reference = loupe(['extract', '--model', DEMO_MODEL_DIR, '--dataset', dataset.path!, '--hooks', hooks.join(','), '--context', String(T), '--batch', '4', '--tokens', String(W * T), '--shard-windows', '8', '--storage', 'f16', '--out', whole]);

    // Sent as the API sends it, with a 1 s retry delay instead of 5–10 s to keep the test short.
    const row = await insertExtraction(db.db, { modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: hooks, settings });
    const jobId = (await boss.send(QUEUE, { extractionId: row.id }, { ...JOB_QUEUES[QUEUE], retryDelay: 1, retryBackoff: false }))!;
    await setExtractionJob(db.db, row.id, jobId);
    const dir = path.join(dataDir, 'activations', row.id);
    await waitFor('a shard', async () => ((await readManifest(dir).catch(() => null))?.windowsDone ?? 0) >= 8 || undefined, 30_000, 10);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    // What the dead worker left: complete shards and their manifest, the row running, the job active.
    const left = (await readManifest(dir))!;
    expect(left.windowsDone).toBeGreaterThanOrEqual(8);
    expect(left.windowsDone).toBeLessThan(W);
    expect(left.complete).toBe(false);
    expect((await getExtraction(db.db, row.id))?.status).toBe('running');
    expect((await boss.getJobById(QUEUE, jobId))?.state).toBe('active');

    // The next worker recovers the job; pg-boss hands it out again; it resumes.
    await startWorker();
    const job = await waitFor(
      'the job to complete',
      async () => {
        const j = await boss.getJobById(QUEUE, jobId);
        if (j?.state === 'failed') throw new Error(`the job failed: ${JSON.stringify(j.output)}`);
        return j?.state === 'completed' ? j : undefined;
      },
      30_000,
      50,
    );
    expect(job.retryCount).toBeGreaterThanOrEqual(1);
    expect(job.output).toMatchObject({ windows: W, resumedAtWindow: left.windowsDone });
    const done = (await getExtraction(db.db, row.id))!;
    expect(done).toMatchObject({ status: 'completed', error: null, progress: { status: 'completed', tokensDone: W * T } });
    expect(workers[1]!.output()).toMatch(/resuming/);

    const ref = await reference;
    expect(ref.code, ref.stderr).toBe(0);
    expect(storeFiles(dir)).toEqual(storeFiles(whole));
    const { files, differ } = compareShards(dir, whole);
    expect(files).toHaveLength(W / 8);
    expect(differ).toEqual([]);
    // and the statistics' exact sums
    expect((await readManifest(dir))!.hooks[hooks[0]!]!.sums).toEqual((await readManifest(whole))!.hooks[hooks[0]!]!.sums);
  });
});
