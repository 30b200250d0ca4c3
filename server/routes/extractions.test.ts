/**
 * The extractions API in-process over a real PostgreSQL and pg-boss (no
 * worker: jobs stay queued here; workers/activations-extract.e2e.test.ts runs
 * them): validation naming the field, the history, the detail with what a
 * store holds, cancel, delete, and templates.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationsDir, runExtraction } from '../../models/activations/run.ts';
import { hookStats, readManifest } from '../../models/activations/store.ts';
import { errorBodySchema } from '../../models/contracts/api.ts';
import {
  createdExtractionSchema,
  extractionDetailSchema,
  extractionListSchema,
  extractionSchema,
  extractionTemplateSchema,
  templateListSchema,
  type ExtractionTemplate,
} from '../../models/contracts/extractions.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import type { DatasetRow } from '../../db/queries/datasets.ts';
import { DEMO_MODEL_ID, insertModel } from '../../db/queries/models.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { insertCompletedDataset, tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';

const HOOK = 'blocks.1.hook_resid_post';

describe('extractions API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let dataset: DatasetRow;
  let tiny: DatasetRow;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-extractions-api-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_extractions_api');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(dataDir, 'datasets', 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 3000));
    const tinyDir = path.join(dataDir, 'datasets', 'tiny');
    tiny = await insertCompletedDataset(db.db, tinyDir, await tokenizeDemo(tinyDir, 100), 'tiny');
  });
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) => t.request('/api/extractions', { method: 'POST', body: JSON.stringify(body) });
  const valid = (extra: Record<string, unknown> = {}) => ({ modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: [HOOK], ...extra });
  const fieldsOf = async (res: Response) => {
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(400);
    const err = errorBodySchema.parse(body).error;
    expect(err.code).toBe('invalid_request');
    return { fields: [...new Set((err.details as { field: string }[]).map((d) => d.field))].sort(), message: err.message };
  };

  it('queues an extraction: 202 with its settings resolved and its activations.extract job; the history lists it, filtered by model and dataset', async () => {
    const res = await post(valid({ hookPoints: [HOOK, 'blocks.1.mlp.hook_post'], storage: 'f16', contextLength: 64, batchSize: 4, tokenBudget: 1024 }));
    expect(res.status).toBe(202);
    const { extraction, job } = createdExtractionSchema.parse(await res.json());
    expect(job.kind).toBe('activations.extract');
    expect(extraction).toMatchObject({
      modelId: DEMO_MODEL_ID,
      modelName: expect.stringMatching(/tiny-gpt2/),
      datasetId: dataset.id,
      datasetName: 'demo slice',
      hookPoints: [HOOK, 'blocks.1.mlp.hook_post'],
      status: 'queued',
      progress: null,
      stats: null,
      jobId: job.id,
      // the model's dtype, no overlap, BOS excluded, BOS prepended as the dataset does (not for GPT-2)
      settings: { dtype: 'fp32', storage: 'f16', contextLength: 64, batchSize: 4, tokenBudget: 1024, stride: null, keepBos: false, prependBos: null },
    });
    // default shard: ~64 MiB of float32 for the widest hook (1024), in whole batches
    expect(extraction.settings.windowsPerShard).toBe(256);
    expect(await t.boss.getJobById('activations.extract', job.id)).toMatchObject({ state: 'created', data: { extractionId: extraction.id }, retryLimit: 3 });

    const defaults = createdExtractionSchema.parse(await (await post(valid())).json()).extraction;
    expect(defaults.settings).toMatchObject({ storage: 'f32', contextLength: 128, batchSize: 8, tokenBudget: 1_000_000 });

    const list = extractionListSchema.parse(await (await t.request('/api/extractions')).json()).extractions;
    expect(list.map((e) => e.id).slice(0, 2)).toEqual([defaults.id, extraction.id]);
    const byDataset = extractionListSchema.parse(await (await t.request(`/api/extractions?datasetId=${tiny.id}`)).json()).extractions;
    expect(byDataset).toEqual([]);
    const byModel = extractionListSchema.parse(await (await t.request(`/api/extractions?modelId=${DEMO_MODEL_ID}&status=queued`)).json()).extractions;
    expect(byModel.map((e) => e.id)).toContain(extraction.id);
    expect((await t.request('/api/extractions?modelId=nope')).status).toBe(400);
  });

  it('refuses what cannot work with a 400 naming the field', async () => {
    const queuedModel = await insertModel(db.db, { name: 'not yet', source: { kind: 'hub', repo: 'a/b', revision: 'main' }, dtype: 'fp32', path: null });
    const cases: [unknown, string, RegExp?][] = [
      [{ datasetId: dataset.id, hookPoints: [HOOK] }, 'modelId'],
      [valid({ modelId: '00000000-0000-4000-8000-000000000001' }), 'modelId', /no model/],
      [valid({ modelId: queuedModel.id }), 'modelId', /is queued/],
      [valid({ datasetId: '00000000-0000-4000-8000-000000000002' }), 'datasetId', /no dataset/],
      [valid({ hookPoints: [] }), 'hookPoints', /at least one/],
      [valid({ hookPoints: undefined }), 'hookPoints', /at least one hook point/],
      [valid({ hookPoints: [HOOK, HOOK] }), 'hookPoints', /listed twice/],
      [valid({ hookPoints: [HOOK, 'blocks.7.hook_resid_post'] }), 'hookPoints.1', /unknown hook point "blocks\.7\.hook_resid_post"/],
      [valid({ hookPoints: ['blocks.0.attn.hook_pattern'] }), 'hookPoints.0', /not one row per token/],
      [valid({ hookPoints: ['../etc'] }), 'hookPoints.0'],
      [valid({ contextLength: 1024 }), 'contextLength', /exceeds the model's context length 512/],
      [valid({ contextLength: 0 }), 'contextLength'],
      [valid({ contextLength: 64, tokenBudget: 63 }), 'tokenBudget', /do not fill one window/],
      [valid({ batchSize: 4, windowsPerShard: 6 }), 'windowsPerShard', /multiple of batchSize/],
      [valid({ dtype: 'int3' }), 'dtype'],
      [valid({ storage: 'bf16' }), 'storage'],
      [valid({ stride: -1 }), 'stride'],
      [valid({ keepBos: 'yes' }), 'keepBos'],
      [valid({ datasetId: tiny.id }), 'contextLength', /100 tokens do not fill one window of 128/],
      [valid({ templateId: '00000000-0000-4000-8000-000000000003' }), 'templateId', /no template/],
    ];
    for (const [body, field, message] of cases) {
      const { fields, message: text } = await fieldsOf(await post(body));
      expect(fields, JSON.stringify(body)).toEqual([field]);
      if (message) expect(text).toMatch(message);
    }
    const extra = await fieldsOf(await post(valid({ colour: 'blue' })));
    expect(extra.message).toMatch(/colour/);
    expect((await t.request('/api/extractions', { method: 'POST', body: '{nope' })).status).toBe(400);
  });

  it('shows what the store holds: nothing before the job writes, then per-hook shapes, shards, rows and statistics from the manifest', async () => {
    const { extraction } = createdExtractionSchema.parse(await (await post(valid({ hookPoints: [HOOK, 'blocks.0.attn.hook_z'], contextLength: 32, batchSize: 4, tokenBudget: 640, windowsPerShard: 8 }))).json());
    const before = extractionDetailSchema.parse(await (await t.request(`/api/extractions/${extraction.id}`)).json());
    expect(before.manifest).toBeNull();

    // what the job would write, written here
    const out = activationsDir(dataDir, extraction.id);
    await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset.path!, outDir: out, hookPoints: extraction.hookPoints, settings: extraction.settings, device: 'cpu' });
    const m = (await readManifest(out))!;
    const detail = extractionDetailSchema.parse(await (await t.request(`/api/extractions/${extraction.id}`)).json());
    expect(detail.manifest).toMatchObject({ complete: true, windowsDone: 20, windowsTotal: 20, windowsPerShard: 8, tokensDone: 640 });
    const [resid, z] = detail.manifest!.hooks;
    expect(resid).toMatchObject({ hook: HOOK, rowShape: [256], d: 256, dtype: 'f32', rows: m.hooks[HOOK]!.rows, shards: 3 });
    expect(z).toMatchObject({ hook: 'blocks.0.attn.hook_z', rowShape: [8, 32], d: 256 });
    const s = hookStats(m.hooks[HOOK]!);
    expect(resid!.stats.count).toBe(s.count);
    expect(resid!.stats.meanNorm).toBeCloseTo(s.meanNorm, 9);
    expect(resid!.stats.maxVariance).toBeCloseTo(Math.max(...s.variance), 9);
    // 256 dimensions: one per bucket
    expect(resid!.variance.bucket).toBe(1);
    expect(resid!.variance.mean).toHaveLength(256);
    expect(resid!.variance.max[17]).toBeCloseTo(s.variance[17]!, 9);
    expect(resid!.bytes).toBe(resid!.rows * (256 * 4 + 8));

    expect((await t.request('/api/extractions/00000000-0000-4000-8000-000000000009')).status).toBe(404);
    expect((await t.request('/api/extractions/nope')).status).toBe(400);
  });

  it('cancels a queued extraction (409 once finished); a cancel through the jobs API marks it too; delete removes the row and the folder', async () => {
    const a = createdExtractionSchema.parse(await (await post(valid())).json());
    const res = await t.request(`/api/extractions/${a.extraction.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(extractionSchema.parse(await res.json()).status).toBe('cancelled');
    expect((await t.boss.getJobById('activations.extract', a.job.id))?.state).toBe('cancelled');
    expect((await t.request(`/api/extractions/${a.extraction.id}/cancel`, { method: 'POST' })).status).toBe(409);

    const b = createdExtractionSchema.parse(await (await post(valid())).json());
    expect((await t.request(`/api/jobs/${b.job.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(extractionSchema.parse(await (await t.request(`/api/extractions/${b.extraction.id}`)).json()).status).toBe('cancelled');

    const c = createdExtractionSchema.parse(await (await post(valid({ contextLength: 32, batchSize: 4, tokenBudget: 128 }))).json());
    const out = activationsDir(dataDir, c.extraction.id);
    await runExtraction({ modelDir: DEMO_MODEL_DIR, datasetDir: dataset.path!, outDir: out, hookPoints: [HOOK], settings: c.extraction.settings, device: 'cpu' });
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(true);
    expect((await t.request(`/api/extractions/${c.extraction.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(out)).toBe(false);
    expect((await t.boss.getJobById('activations.extract', c.job.id))?.state).toBe('cancelled');
    expect((await t.request(`/api/extractions/${c.extraction.id}`)).status).toBe(404);
    expect((await t.request(`/api/extractions/${c.extraction.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('saves templates (validated, unique names), fills a new extraction from one (the body wins), and deletes them', async () => {
    const save = (body: unknown) => t.request('/api/extraction-templates', { method: 'POST', body: JSON.stringify(body) });
    const res = await save({ name: 'resid 1, short windows', settings: { hookPoints: [HOOK], contextLength: 32, batchSize: 4, windowsPerShard: 16, storage: 'f16', tokenBudget: 4096 } });
    expect(res.status).toBe(201);
    const tpl: ExtractionTemplate = extractionTemplateSchema.parse(await res.json());
    expect(tpl.settings).toEqual({ hookPoints: [HOOK], contextLength: 32, batchSize: 4, windowsPerShard: 16, storage: 'f16', tokenBudget: 4096 });
    expect((await save({ name: 'a first one', settings: { keepBos: true } })).status).toBe(201);

    const dup = await save({ name: 'RESID 1, short windows', settings: {} });
    expect(dup.status).toBe(409);
    expect(errorBodySchema.parse(await dup.json()).error.details).toEqual([{ field: 'name', message: 'a template has this name already' }]);
    const bad = await fieldsOf(await save({ name: ' ', settings: { hookPoints: ['a b'], dtype: 'int3' } }));
    expect(bad.fields).toEqual(['name', 'settings.dtype', 'settings.hookPoints.0']);
    expect((await fieldsOf(await save({ name: 'odd shards', settings: { batchSize: 4, windowsPerShard: 6 } }))).fields).toEqual(['settings.windowsPerShard']);

    const names = templateListSchema.parse(await (await t.request('/api/extraction-templates')).json()).templates.map((x) => x.name);
    expect(names).toEqual(['a first one', 'resid 1, short windows']);

    const { extraction } = createdExtractionSchema.parse(await (await post({ modelId: DEMO_MODEL_ID, datasetId: dataset.id, templateId: tpl.id, batchSize: 8 })).json());
    expect(extraction.hookPoints).toEqual([HOOK]);
    expect(extraction.settings).toMatchObject({ contextLength: 32, batchSize: 8, windowsPerShard: 16, storage: 'f16', tokenBudget: 4096 });
    // the body's batch size against the template's shard size: named
    expect((await fieldsOf(await post({ modelId: DEMO_MODEL_ID, datasetId: dataset.id, templateId: tpl.id, batchSize: 3 }))).fields).toEqual(['windowsPerShard']);

    expect((await t.request(`/api/extraction-templates/${tpl.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.request(`/api/extraction-templates/${tpl.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await fieldsOf(await post({ modelId: DEMO_MODEL_ID, datasetId: dataset.id, templateId: tpl.id }))).fields).toEqual(['templateId']);
  });

  it('deleting a dataset removes the activation folders of its extractions (their rows go by foreign key)', async () => {
    const dir = path.join(dataDir, 'datasets', 'doomed');
    const doomed = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 300), 'doomed');
    const { extraction } = createdExtractionSchema.parse(await (await post({ modelId: DEMO_MODEL_ID, datasetId: doomed.id, hookPoints: [HOOK], contextLength: 16, tokenBudget: 64, batchSize: 4, windowsPerShard: 4 })).json());
    const folder = activationsDir(dataDir, extraction.id);
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'manifest.json'), '{}');
    expect((await t.request(`/api/datasets/${doomed.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(folder)).toBe(false);
    expect((await t.request(`/api/extractions/${extraction.id}`)).status).toBe(404);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await (await t.request('/api/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/extractions']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/extractions/{id}']!).sort()).toEqual(['delete', 'get']);
    expect(doc.paths['/api/extractions/{id}/cancel']).toHaveProperty('post');
    expect(Object.keys(doc.paths['/api/extraction-templates']!).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/api/extraction-templates/{id}']).toHaveProperty('delete');
  });
});
