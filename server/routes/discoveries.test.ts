/**
 * Discoveries over text through the API, with a real pg-boss and the
 * `features.discover` job run by an in-process job runner: a small TopK SAE
 * trained on the demo model's blocks.3.hook_resid_post over 96 windows of a
 * tokenized slice of the demo dataset. `POST /api/discoveries` with the
 * dataset instead of the extraction runs the model over the same windows
 * and stores the same features (within float rounding) as the discovery
 * over the extraction; bad sources are refused naming the field.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { discoverySchema, type Discovery } from '../../models/contracts/features.ts';
import { loadConfig } from '../../models/config.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { createEvents } from '../../db/events.ts';
import { insertDataset, type DatasetRow } from '../../db/queries/datasets.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import { DEMO_MODEL_ID, insertModel, updateModel } from '../../db/queries/models.ts';
import { insertSae, type SaeRow } from '../../db/queries/saes.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { discoveryEnded, trainedSae } from '../../scripts/testing/features.ts';
import { insertCompletedDataset, tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { completedExtraction, SMALL_EXTRACTION } from '../../scripts/testing/training.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { featuresDiscover } from '../../workers/features-discover.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';

const HOOK = 'blocks.3.hook_resid_post';

describe('discoveries over text', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let dataset: DatasetRow;
  let extraction: ExtractionRow;
  let sae: SaeRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-discoveries-api-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_discoveries_api');
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(tmp, 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 8000));
    // 96 windows of 64 tokens, packed back to back, BOS rows left out: the windows of a discovery over text with these settings
    extraction = await completedExtraction(db.db, dataDir, dataset, [HOOK], { ...SMALL_EXTRACTION, tokenBudget: 96 * 64 });
    sae = await trainedSae(db.db, dataDir, extraction, HOOK);
    t = await createTestApp(db, dataDir);
    runner = await startJobRunner({
      boss: t.boss,
      database: db,
      events: createEvents(db.pool),
      config: loadConfig({ DATA_DIR: dataDir, LOUPE_DEVICE: 'cpu' }),
      kinds: [featuresDiscover],
      log: logger('test-worker'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
    });
  }, 240_000);

  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (body: unknown) => t.request('/api/discoveries', { method: 'POST', body: JSON.stringify(body) });
  const refused = async (body: unknown) => {
    const res = await post(body);
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(400);
    const err = errorBodySchema.parse(json).error;
    return { fields: (err.details as { field: string }[]).map((d) => d.field), message: err.message };
  };
  const queued = async (body: unknown): Promise<Discovery> => {
    const res = await post(body);
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    return discoverySchema.parse(json);
  };
  /** The SAE's stored features and examples (bigint columns as pg gives them, strings). */
  const stored = async () => {
    const features = await db.pool.query<{ index: number; frequency: number; max_activation: number; mean_activation: number; peak_tokens: number[] }>(
      'SELECT index, frequency, max_activation, mean_activation, peak_tokens FROM features WHERE sae_id = $1 ORDER BY index',
      [sae.id],
    );
    const examples = await db.pool.query<{ feature_index: number; rank: number; max_value: number; tokens: number[]; values: number[]; dataset_offset: string; position: string }>(
      'SELECT feature_index, rank, max_value, tokens, values, dataset_offset, position FROM feature_examples WHERE sae_id = $1 ORDER BY feature_index, rank',
      [sae.id],
    );
    return { features: features.rows, examples: examples.rows };
  };

  it('refuses a source that cannot work, naming the field', async () => {
    const text = { saeId: sae.id, datasetId: dataset.id };
    expect((await refused({ ...text, extractionId: extraction.id })).fields).toEqual(['datasetId']);
    expect((await refused({ saeId: sae.id, maxTokens: 1000 })).fields).toEqual(['maxTokens']);
    expect((await refused({ saeId: sae.id, extractionId: extraction.id, contextLength: 64 })).fields).toEqual(['contextLength']);
    expect((await refused({ ...text, datasetId: '00000000-0000-4000-8000-000000000001' })).fields).toEqual(['datasetId']);
    expect((await refused({ ...text, contextLength: 1 })).fields).toEqual(['contextLength']);
    // windows the model or the dataset cannot hold
    const tooLong = await refused({ ...text, contextLength: 513 });
    expect(tooLong).toMatchObject({ fields: ['contextLength'], message: expect.stringMatching(/exceeds the model's context length 512/) });
    expect((await refused({ ...text, contextLength: 64, maxTokens: 63 })).fields).toEqual(['maxTokens']);
    // a dataset still importing
    const importing = await insertDataset(db.db, { name: 'importing', source: dataset.source, settings: dataset.settings, tokenizerModelId: DEMO_MODEL_ID, path: null });
    expect((await refused({ ...text, datasetId: importing.id })).message).toMatch(/importing is queued/);
    // an SAE with no model to run
    const orphan = await insertSae(db.db, { id: randomUUID(), name: 'no model', trainingId: null, modelId: null, hookPoint: HOOK, architecture: 'topk', dIn: 256, dSae: 128, cfg: {}, metrics: null, path: sae.path });
    expect((await refused({ ...text, saeId: orphan.id })).fields).toEqual(['saeId']);
    // an SAE at a hook the model does not have
    const elsewhere = await insertSae(db.db, { id: randomUUID(), name: 'elsewhere', trainingId: null, modelId: DEMO_MODEL_ID, hookPoint: 'blocks.9.hook_resid_post', architecture: 'topk', dIn: 256, dSae: 128, cfg: {}, metrics: null, path: sae.path });
    expect((await refused({ ...text, saeId: elsewhere.id })).fields).toEqual(['saeId']);
    // a dataset tokenized by another model whose tokenizer differs: refused; one whose tokenizer.json is the same bytes: taken
    const other = async (name: string, edit: (json: string) => string) => {
      const dir = path.join(tmp, name);
      cpSync(DEMO_MODEL_DIR, dir, { recursive: true });
      writeFileSync(path.join(dir, 'tokenizer.json'), edit(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')));
      const m = await insertModel(db.db, { name, source: { kind: 'hub', repo: `test/${name}`, revision: 'main' }, dtype: 'fp32', path: dir });
      await updateModel(db.db, m.id, { status: 'completed' });
      const slice = path.join(tmp, `${name}-slice`);
      const d = await insertCompletedDataset(db.db, slice, await tokenizeDemo(slice, 2000), `${name} slice`);
      await db.pool.query('UPDATE datasets SET tokenizer_model_id = $1 WHERE id = $2', [m.id, d.id]);
      return d;
    };
    const unlike = await other('unlike', (json) => `${json}\n`);
    expect(await refused({ ...text, datasetId: unlike.id })).toMatchObject({ fields: ['datasetId'], message: expect.stringMatching(/tokenized with unlike's tokenizer/) });
    const alike = await other('alike', (json) => json);
    const taken = await queued({ ...text, datasetId: alike.id, maxTokens: 640, contextLength: 64 });
    expect(taken).toMatchObject({ source: 'text', datasetId: alike.id, text: { contextLength: 64, maxTokens: 640 } });
    expect((await t.request(`/api/discoveries/${taken.id}`, { method: 'DELETE' })).status).toBe(204);
  }, 60_000);

  it('runs the SAE over the text of the extraction\'s windows and stores the features the extraction gives', async () => {
    const overStore = await queued({ saeId: sae.id });
    expect(overStore).toMatchObject({ source: 'extraction', extractionId: extraction.id, datasetId: null, text: null });
    const a = await discoveryEnded(db.db, overStore.id);
    expect(a.status, a.error ?? '').toBe('completed');
    const fromStore = await stored();

    const overText = await queued({ saeId: sae.id, datasetId: dataset.id, maxTokens: 96 * 64, contextLength: 64 });
    expect(overText).toMatchObject({ source: 'text', extractionId: null, datasetId: dataset.id, text: { contextLength: 64, maxTokens: 96 * 64 }, status: 'queued' });
    const b = await discoveryEnded(db.db, overText.id);
    expect(b.status, b.error ?? '').toBe('completed');
    // the same rows (tokens but BOS/EOS), the same features within float rounding
    expect(b.rows).toBe(a.rows);
    expect(b.rows).toBe(extraction.stats![HOOK]!.count);
    expect(discoverySchema.parse(await (await t.request(`/api/discoveries/${overText.id}`)).json())).toMatchObject({ source: 'text', datasetId: dataset.id, text: { contextLength: 64, maxTokens: 96 * 64 } });
    const fromText = await stored();
    expect(fromText.features).toHaveLength(sae.dSae);
    expect(fromStore.features.filter((f) => f.frequency > 0).length).toBeGreaterThan(sae.dSae / 2);
    for (const [i, s] of fromStore.features.entries()) {
      const x = fromText.features[i]!;
      expect(x.index).toBe(s.index);
      expect(x.frequency).toBeCloseTo(s.frequency, 4);
      expect(x.max_activation).toBeCloseTo(s.max_activation, 4);
      expect(x.mean_activation).toBeCloseTo(s.mean_activation, 4);
      expect(x.peak_tokens).toEqual(s.peak_tokens);
    }
    expect(fromText.examples.length).toBe(fromStore.examples.length);
    expect(fromText.examples.length).toBeGreaterThan(sae.dSae);
    for (const [i, s] of fromStore.examples.entries()) {
      const x = fromText.examples[i]!;
      expect([x.feature_index, x.rank, x.position, x.dataset_offset, x.tokens]).toEqual([s.feature_index, s.rank, s.position, s.dataset_offset, s.tokens]);
      expect(x.max_value).toBeCloseTo(s.max_value, 4);
      x.values.forEach((v, k) => expect(v).toBeCloseTo(s.values[k]!, 4));
    }
  }, 240_000);
});
