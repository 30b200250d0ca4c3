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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../models/activations/store.ts';
import type { ExtractionSettings } from '../models/contracts/extractions.ts';
import { logger } from '../models/log.ts';
import { DEMO_MODEL_DIR } from '../models/model-files.ts';
import type { DatasetRow } from '../db/queries/datasets.ts';
import { getExtraction, insertExtraction, setExtractionJob } from '../db/queries/extractions.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { compareShards, loupe, storeFiles } from '../scripts/testing/activations.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { startQueue, Workers, type TestQueue } from '../scripts/testing/worker.ts';
import { registerDemoModel } from './demo-model.ts';

describe('an extraction whose worker dies', () => {
  let db: TestDatabase;
  let queue: TestQueue;
  let dataset: DatasetRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-extract-resume-'));
  const dataDir = path.join(tmp, 'data');
  const workers = new Workers(() => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', LOUPE_TEST_HEARTBEAT_MS: '500' }));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_extract_resume');
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(tmp, 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 12_000));
    queue = await startQueue(db.url, 'activations.extract');
  });
  afterAll(async () => {
    // The first one was killed; the others exit cleanly.
    await workers.stop();
    await queue?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is resumed by the retry after the last complete shard, and every shard equals an uninterrupted run byte for byte', async () => {
    const T = 32;
    const W = 240;
    const hooks = ['blocks.2.hook_resid_post'];
    const settings: ExtractionSettings = { dtype: 'fp32', storage: 'f16', contextLength: T, batchSize: 4, tokenBudget: W * T, stride: null, keepBos: false, prependBos: null, windowsPerShard: 8 };
    const first = await workers.start();
    // The uninterrupted run: `loupe extract` (the same runExtraction) with the same settings, beside the job.
    const whole = path.join(tmp, 'whole');
    const reference = loupe(['extract', '--model', DEMO_MODEL_DIR, '--dataset', dataset.path!, '--hooks', hooks.join(','), '--context', String(T), '--batch', '4', '--tokens', String(W * T), '--shard-windows', '8', '--storage', 'f16', '--out', whole]);

    // Sent as the API sends it, with a 1 s retry delay instead of 5–10 s to keep the test short.
    const row = await insertExtraction(db.db, { modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: hooks, settings });
    const jobId = await queue.send({ extractionId: row.id });
    await setExtractionJob(db.db, row.id, jobId);
    const dir = path.join(dataDir, 'activations', row.id);
    await waitFor('a shard', async () => ((await readManifest(dir).catch(() => null))?.windowsDone ?? 0) >= 8 || undefined, 30_000, 10);
    expect(await workers.kill(first)).toBe('SIGKILL');

    // What the dead worker left: complete shards and their manifest, the row running, the job active.
    const left = (await readManifest(dir))!;
    expect(left.windowsDone).toBeGreaterThanOrEqual(8);
    expect(left.windowsDone).toBeLessThan(W);
    expect(left.complete).toBe(false);
    expect((await getExtraction(db.db, row.id))?.status).toBe('running');
    expect(await queue.state(jobId)).toBe('active');

    // The next worker recovers the job; pg-boss hands it out again; it resumes.
    const second = await workers.start();
    const job = await queue.completed(jobId, 30_000);
    expect(job.retryCount).toBeGreaterThanOrEqual(1);
    expect(job.output).toMatchObject({ windows: W, resumedAtWindow: left.windowsDone });
    const done = (await getExtraction(db.db, row.id))!;
    expect(done).toMatchObject({ status: 'completed', error: null, progress: { status: 'completed', tokensDone: W * T } });
    expect(second.output()).toMatch(/resuming/);

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
