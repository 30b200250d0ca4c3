/**
 * Bad input and faults through the API, in-process over a real PostgreSQL
 * and pg-boss (issue 11): a model whose config.json is out of bounds or whose
 * weights are corrupt is refused at registration, and one already registered
 * answers 4xx instead of running the server out of memory; a training or
 * extraction too large for the workers' memory is refused with the estimate
 * and the limit in GiB, naming the field; unknown fields of `POST
 * /api/models` and `POST /api/datasets` are refused, named.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { MODEL_LIMITS } from '../../models/architectures/limits.ts';
import { logger } from '../../models/log.ts';
import { MEMORY_POLICY } from '../../models/memory.ts';
import type { DatasetRow } from '../../db/queries/datasets.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import { DEMO_MODEL_ID, insertModel, updateModel } from '../../db/queries/models.ts';
import { insertSae } from '../../db/queries/saes.ts';
import { removeWorker, upsertWorker } from '../../db/queries/workers.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { copyTinyModel, WEIGHT_CORRUPTIONS } from '../../scripts/testing/bad-models.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { insertCompletedDataset, tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { completedExtraction } from '../../scripts/testing/training.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';

const GIB = 1024 ** 3;
const HOOK = 'blocks.1.hook_resid_post';

describe('bad input and faults', () => {
  let db: TestDatabase;
  let t: TestApp;
  let dataset: DatasetRow;
  let extraction: ExtractionRow;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-limits-api-'));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-limits-models-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_limits_api');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(dataDir, 'datasets', 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 6000));
    extraction = await completedExtraction(db.db, dataDir, dataset, [HOOK]);
  }, 120_000);
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (url: string, body: unknown) => t.request(url, { method: 'POST', body: JSON.stringify(body) });
  /** The error of a response of status `status`, with the fields its details name. */
  const problem = async (res: Response, status: number) => {
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(status);
    const err = errorBodySchema.parse(body).error;
    return { code: err.code, message: err.message, fields: (err.details as { field: string }[]).map((d) => d.field), details: err.details as { field: string; message: string }[] };
  };
  /** A model row, completed, whose folder is `dir` (as a registration before these checks would have left it). */
  const registered = async (dir: string, config: Record<string, unknown>) => {
    const row = await insertModel(db.db, { name: path.basename(dir), source: { kind: 'local', path: dir }, dtype: 'fp32', path: null });
    await updateModel(db.db, row.id, { status: 'completed', path: dir, config, architecture: 'gpt2' });
    return row.id;
  };
  const worker = (id: string, memoryBytes: number | null) =>
    upsertWorker(db.db, { id, host: 'test-host', pid: 1, concurrency: 1, queues: ['sae.train', 'activations.extract', 'features.discover'], memoryBytes, startedAt: Date.now(), lastSeen: Date.now() });

  describe('(a) a config of a billion layers, a billion wide', () => {
    const huge = { n_layer: 1e9, n_embd: 1e9 };
    const said = `config.json: "n_layer" is 1,000,000,000; Loupe accepts models with at most ${MODEL_LIMITS.MAX_LAYERS.toLocaleString('en-US')} layers`;

    it('is refused at registration, naming source.path and the config field', async () => {
      const dir = copyTinyModel(path.join(tmp, 'huge'), huge);
      const p = await problem(await post('/api/models', { source: { kind: 'local', path: dir } }), 400);
      expect(p.fields).toEqual(['source.path']);
      expect(p.message).toContain(said);
    });

    it('registered before: the architecture is a 422 and an extraction a 400 naming modelId, in milliseconds, with no allocation', async () => {
      const dir = copyTinyModel(path.join(tmp, 'huge-registered'), huge);
      const id = await registered(dir, copyConfig(dir));
      const heap = process.memoryUsage().heapUsed;
      const arch = await problem(await t.request(`/api/models/${id}/architecture`), 422);
      expect(arch.code).toBe('invalid_model');
      expect(arch.fields).toEqual(['id']);
      expect(arch.message).toContain(said);
      const ext = await problem(await post('/api/extractions', { modelId: id, datasetId: dataset.id, hookPoints: [HOOK] }), 400);
      expect(ext.fields).toEqual(['modelId']);
      expect(ext.message).toContain(said);
      expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 << 20);
    });
  });

  describe('(b) corrupt weights', () => {
    for (const [name, c] of Object.entries(WEIGHT_CORRUPTIONS)) {
      it(`with ${name} are refused at registration, naming the file and tensor; registered before, the architecture is a 422`, async () => {
        const dir = copyTinyModel(path.join(tmp, `corrupt-${name.replace(/\W+/g, '-')}`));
        c.apply(path.join(dir, 'model.safetensors'));
        const p = await problem(await post('/api/models', { source: { kind: 'local', path: dir } }), 400);
        expect(p.fields).toEqual(['source.path']);
        expect(p.message).toMatch(c.expect);
        const id = await registered(dir, copyConfig(dir));
        const arch = await problem(await t.request(`/api/models/${id}/architecture`), 422);
        expect(arch.message).toMatch(c.expect);
      });
    }

    it('a sound copy of the same checkpoint is accepted', async () => {
      const dir = copyTinyModel(path.join(tmp, 'sound'));
      expect((await post('/api/models', { source: { kind: 'local', path: dir } })).status).toBe(202);
    });
  });

  describe('(c) memory', () => {
    afterAll(async () => {
      await removeWorker(db.db, 'w-16g');
    });

    it('a training of d_sae 1,048,576 × batch 65,536 is refused with the estimate and the limit in GiB, naming config.batchSize', async () => {
      await worker('w-16g', 16 * GIB);
      const p = await problem(await post('/api/trainings', { extractionId: extraction.id, config: { dSae: 1_048_576, batchSize: 65_536 } }), 422);
      expect(p.code).toBe('insufficient_memory');
      expect(p.fields).toEqual(['config.batchSize']);
      expect(p.message).toMatch(/^This training needs about [\d.]+ GiB of memory \(latents of a batch 1536\.00 GiB, /);
      expect(p.message).toContain(`more than the 13.60 GiB it may use (${MEMORY_POLICY.USABLE_FRACTION * 100} % of the largest worker's 16.00 GiB); lower config.batchSize`);
      // an SAE as wide but with small batches fits, and is refused only by what the store holds
      const ok = await post('/api/trainings', { extractionId: extraction.id, config: { dSae: 4096, batchSize: 256, totalTokens: 2560 } });
      expect(ok.status, JSON.stringify(await ok.clone().json())).toBe(202);
    });

    it('an extraction whose batches cannot fit is refused naming batchSize; the largest worker decides', async () => {
      await worker('w-16g', 2 * GIB);
      const body = { modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: [HOOK], batchSize: 4096, contextLength: 128, tokenBudget: 4096 * 128 };
      const p = await problem(await post('/api/extractions', body), 422);
      expect(p).toMatchObject({ code: 'insufficient_memory', fields: ['batchSize'] });
      expect(p.message).toMatch(/^This extraction needs about [\d.]+ GiB of memory \(forward pass of a batch [\d.]+ GiB, .* more than the 1\.70 GiB it may use .*; lower batchSize$/);
      await worker('w-256g', 256 * GIB);
      expect((await post('/api/extractions', body)).status).toBe(202);
      await removeWorker(db.db, 'w-256g');
    });

    it('a discovery of an SAE too wide for the workers is refused naming saeId; with fewer examples kept it fits', async () => {
      await worker('w-16g', 2 * GIB);
      const sae = await insertSae(db.db, { id: randomUUID(), name: 'giant', trainingId: null, modelId: DEMO_MODEL_ID, hookPoint: HOOK, architecture: 'topk', dIn: 256, dSae: 1 << 20, cfg: {}, metrics: null, path: path.join(tmp, 'no-sae') });
      const p = await problem(await post('/api/discoveries', { saeId: sae.id, extractionId: extraction.id }), 422);
      expect(p).toMatchObject({ code: 'insufficient_memory', fields: ['saeId'] });
      // [512, 1,048,576] float32 latents of a chunk (three of them), W_enc and W_dec twice
      expect(p.message).toMatch(/^This discovery needs about [\d.]+ GiB of memory \(latents of a chunk 6\.00 GiB, SAE weights 4\.01 GiB, .*1\.70 GiB it may use .*; saeId names a model or SAE too large for this: pick a smaller one$/);
      await worker('w-16g', 16 * GIB);
      // examples of 128 + 128 tokens around each of 50 peaks, for a million features: the examples are what is too large
      const examples = await problem(await post('/api/discoveries', { saeId: sae.id, extractionId: extraction.id, topK: 50, left: 128, right: 128 }), 422);
      expect(examples.fields).toEqual(['topK']);
      expect((await post('/api/discoveries', { saeId: sae.id, extractionId: extraction.id, topK: 5, left: 4, right: 4 })).status).toBe(202);
    });

    it('with no worker that reported its memory, the POST leaves the check to the worker that takes the job', async () => {
      await removeWorker(db.db, 'w-16g');
      await worker('w-old', null);
      const p = await problem(await post('/api/trainings', { extractionId: extraction.id, config: { dSae: 1_048_576, batchSize: 65_536 } }), 400);
      // refused by the store's size instead (it holds fewer rows than one batch)
      expect(p.fields).toEqual(['config.batchSize']);
      expect(p.message).toMatch(/65536 is more than the \d+ rows stored/);
      await removeWorker(db.db, 'w-old');
    });
  });

  describe('(d) unknown fields', () => {
    it('of POST /api/models are refused, named', async () => {
      expect((await problem(await post('/api/models', { source: { kind: 'hub', repo: 'a/b' }, bogus: 1 }), 400)).fields).toEqual(['bogus']);
      expect((await problem(await post('/api/models', { source: { kind: 'local', path: '/x', depth: 2 } }), 400)).fields).toEqual(['source.depth']);
      expect((await problem(await post('/api/models', { source: { kind: 'hub', repo: 'a/b', revison: 'v1' } }), 400)).fields).toEqual(['source.revison']);
    });

    it('of POST /api/datasets are refused, named', async () => {
      const p = await problem(await post('/api/datasets', { source: { kind: 'hub', repo: 'a/b' }, maxTokenz: 5 }), 400);
      expect(p.fields).toEqual(['maxTokenz']);
      expect(p.details[0]!.message).toBe('unknown field "maxTokenz"');
      expect(p.message).toContain('maxTokenz');
      expect((await problem(await post('/api/datasets', { source: { kind: 'hub', repo: 'a/b', splt: 'test' } }), 400)).fields).toEqual(['source.splt']);
    });
  });
});

/** config.json of a copy, as the registration stored it. */
function copyConfig(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}
