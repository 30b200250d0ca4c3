/**
 * Failures no retry can fix end a job at its first attempt, through the real
 * runner, pg-boss and job kinds (issue 11): an extraction over corrupt
 * weights or over a model whose config.json is out of bounds (rows written
 * before registration checked them), a training too large for this host's
 * memory, a download of such a model (failed, not completed), and an
 * allocation that fails.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../models/config.ts';
import type { ModelSource } from '../models/contracts/api.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { logger } from '../models/log.ts';
import { modelDir } from '../models/model-files.ts';
import { resolveTrainConfig } from '../models/sae/config.ts';
import { createEvents } from '../db/events.ts';
import type { DatasetRow } from '../db/queries/datasets.ts';
import { getExtraction, insertExtraction, type ExtractionRow } from '../db/queries/extractions.ts';
import { getModel, insertModel, updateModel } from '../db/queries/models.ts';
import { getTraining, insertTraining } from '../db/queries/trainings.ts';
import { copyTinyModel, WEIGHT_CORRUPTIONS } from '../scripts/testing/bad-models.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startHubServer, type HubServer } from '../scripts/testing/hf-hub-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { completedExtraction, SMALL_EXTRACTION } from '../scripts/testing/training.ts';
import { activationsExtract } from './activations-extract.ts';
import { registerDemoModel } from './demo-model.ts';
import { isPermanentFailure, type JobKind } from './job.ts';
import { modelDownload } from './model-download.ts';
import { startJobRunner, type JobRunner } from './runner.ts';
import { saeTrain } from './sae-train.ts';

const HOOK = 'blocks.0.hook_resid_post';
const attempts = new Map<string, number>();

/** A job that asks for more memory than there is, as a training of a giant SAE would. */
const allocating: JobKind<object> = {
  name: 'test.allocate',
  queue: { retryLimit: 3, retryDelay: 0 },
  async handler(job) {
    attempts.set(job.id, (attempts.get(job.id) ?? 0) + 1);
    return new ArrayBuffer(2 ** 53 - 1).byteLength;
  },
};

describe('permanent failures', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let runner: JobRunner;
  let dataset: DatasetRow;
  let hub: HubServer;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-permanent-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_permanent');
    boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: 3 });
    boss.on('error', () => undefined);
    await boss.start();
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(dataDir, 'datasets', 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 3000));
    const corrupt = copyTinyModel(path.join(dataDir, 'hub-corrupt'));
    WEIGHT_CORRUPTIONS['length not shape × dtype']!.apply(path.join(corrupt, 'model.safetensors'));
    hub = await startHubServer({ repos: [{ repo: 'loupe-test/corrupt', dir: corrupt }] });
    runner = await startJobRunner({
      boss,
      database: db,
      events: createEvents(db.pool),
      config: loadConfig({ DATA_DIR: dataDir, LOUPE_DEVICE: 'cpu', HF_ENDPOINT: hub.url }),
      kinds: [activationsExtract, saeTrain, modelDownload, allocating],
      log: logger('test-runner'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
      stateCheckMs: 300,
    });
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    await boss.stop({ graceful: false, wait: true });
    await hub?.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The job of `kind` `id` once failed; it must have failed at its first attempt. */
  const failedAtOnce = async (kind: string, id: string) => {
    const job = await waitFor(`${kind} to fail`, async () => {
      const j = await boss.getJobById(kind, id);
      return j?.state === 'failed' ? j : undefined;
    }, 60_000, 100);
    expect(job.retryCount).toBe(0);
    return job;
  };

  /** An extraction of a model registered (before these checks) from `dir`, run by the worker. */
  const extractFrom = async (dir: string): Promise<ExtractionRow> => {
    const model = await insertModel(db.db, { name: path.basename(dir), source: { kind: 'local', path: dir }, dtype: 'fp32', path: null });
    await updateModel(db.db, model.id, { status: 'completed', path: dir, config: JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>, architecture: 'gpt2' });
    const row = await insertExtraction(db.db, { modelId: model.id, datasetId: dataset.id, hookPoints: [HOOK], settings: SMALL_EXTRACTION });
    const jobId = (await boss.send('activations.extract', { extractionId: row.id }, { ...JOB_QUEUES['activations.extract'] }))!;
    await failedAtOnce('activations.extract', jobId);
    return (await getExtraction(db.db, row.id))!;
  };

  it('an extraction over truncated weights fails at once, naming the file and tensor', async () => {
    const c = WEIGHT_CORRUPTIONS.truncated!;
    const dir = copyTinyModel(path.join(dataDir, 'truncated'));
    c.apply(path.join(dir, 'model.safetensors'));
    const row = await extractFrom(dir);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(c.expect);
  });

  it('an extraction over a config of a billion layers fails at once, naming the field, with nothing allocated', async () => {
    const row = await extractFrom(copyTinyModel(path.join(dataDir, 'huge'), { n_layer: 1e9, n_embd: 1e9 }));
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/^config\.json: "n_layer" is 1,000,000,000; Loupe accepts models with at most 1,024 layers$/);
  });

  it('a training this host cannot hold fails at once with the estimate and the limit', async () => {
    const extraction = await completedExtraction(db.db, dataDir, dataset, [HOOK]);
    const config = resolveTrainConfig([{ dSae: 1 << 20, batchSize: 1 << 16 }], 4096);
    const row = await insertTraining(db.db, { name: 'giant', extractionId: extraction.id, hookPoints: [HOOK], config });
    const jobId = (await boss.send('sae.train', { trainingId: row.id }, { ...JOB_QUEUES['sae.train'] }))!;
    await failedAtOnce('sae.train', jobId);
    const after = (await getTraining(db.db, row.id))!;
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/^This training needs about [\d.]+ GiB of memory \(latents of a batch 1536\.00 GiB, .*more than the [\d.]+ GiB it may use \(85 % of this worker's host's [\d.]+ GiB\); lower config\.batchSize$/);
  }, 120_000);

  /** A model.download of the local folder `dir` (or a hub repository), run by the worker. */
  const register = async (dir: string, source: ModelSource = { kind: 'local', path: dir }) => {
    const row = await insertModel(db.db, { name: path.basename(dir), source, dtype: 'fp32', path: null });
    const jobId = (await boss.send('model.download', { modelId: row.id }, { ...JOB_QUEUES['model.download'] }))!;
    await failedAtOnce('model.download', jobId);
    return { row: (await getModel(db.db, row.id))!, folder: modelDir(dataDir, row.id) };
  };

  it('a download of corrupt weights ends failed, naming the file and tensor, not completed, and keeps no files', async () => {
    for (const name of ['overlapping offsets', 'wrong shape'] as const) {
      const c = WEIGHT_CORRUPTIONS[name]!;
      const dir = copyTinyModel(path.join(dataDir, `download-${name.replace(/\W+/g, '-')}`));
      c.apply(path.join(dir, 'model.safetensors'));
      const { row, folder } = await register(dir);
      expect(row.status).toBe('failed');
      expect(row.error).toMatch(c.expect);
      // the user's file, before anything was copied
      expect(row.error).toContain(path.join(dir, 'model.safetensors'));
      expect(existsSync(folder)).toBe(false);
    }
  });

  it('a hub download of corrupt weights ends failed, naming the repository\'s file and the tensor', async () => {
    const { row, folder } = await register('corrupt', { kind: 'hub', repo: 'loupe-test/corrupt', revision: 'main' });
    expect(row.status).toBe('failed');
    expect(row.error).toBe('loupe-test/corrupt@main/model.safetensors: tensor "transformer.h.0.attn.c_attn.weight": F32 [64,193] needs 49408 bytes but data_offsets span 49152');
    expect(existsSync(folder)).toBe(false);
  });

  it('a download of a config of a billion layers fails before its weights are copied', async () => {
    const { row, folder } = await register(copyTinyModel(path.join(dataDir, 'download-huge'), { n_layer: 1e9, n_embd: 1e9 }));
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/^config\.json: "n_layer" is 1,000,000,000/);
    expect(existsSync(folder)).toBe(false);
  });

  it('an allocation that fails is not retried', async () => {
    const id = (await boss.send('test.allocate', {}, { retryLimit: 3, retryDelay: 0 }))!;
    const job = await failedAtOnce('test.allocate', id);
    expect(attempts.get(id)).toBe(1);
    expect((job.output as { message: string }).message).toBe('Array buffer allocation failed');
    expect(isPermanentFailure(new Error('ECONNRESET'))).toBe(false);
  });
});
