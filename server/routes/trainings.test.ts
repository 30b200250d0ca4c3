/**
 * The trainings API in-process over a real PostgreSQL and pg-boss (no
 * worker: jobs stay queued here; workers/sae-train.e2e.test.ts runs them):
 * config resolved from body, template and defaults; 400s naming the field;
 * the history with queue positions; the detail; the metric history paged by
 * step; pause, resume, stop and retry as far as they go without a worker;
 * delete (keeping the SAEs a training produced); templates.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import {
  createdTrainingSchema,
  metricsPageSchema,
  trainingControlResultSchema,
  trainingDetailSchema,
  trainingListSchema,
  trainingSchema,
  trainingTemplateListSchema,
  trainingTemplateSchema,
  type EvalValues,
  type TrainMetricValues,
} from '../../models/contracts/trainings.ts';
import { logger } from '../../models/log.ts';
import { trainingHookDir } from '../../models/sae/files.ts';
import { TRAIN_DEFAULTS } from '../../models/sae/train.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import { insertExtraction } from '../../db/queries/extractions.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { listSaes } from '../../db/queries/saes.ts';
import { completeTraining, getTraining, updateTraining, upsertMetrics } from '../../db/queries/trainings.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { insertCompletedDataset, tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { completedExtraction } from '../../scripts/testing/training.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { initialProgress } from '../artifacts/trainings.ts';

const HOOKS: [string, string] = ['blocks.1.hook_resid_post', 'blocks.2.mlp.hook_post'];

describe('trainings API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let extraction: ExtractionRow;
  let rows: Record<string, number>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-trainings-api-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_trainings_api');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(dataDir, 'datasets', 'slice');
    const dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 6000));
    extraction = await completedExtraction(db.db, dataDir, dataset, HOOKS);
    const summary = (await t.deps.extractions!.summary(extraction.id))!;
    rows = Object.fromEntries(summary.hooks.map((h) => [h.hook, h.rows]));
  });
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) => t.request('/api/trainings', { method: 'POST', body: JSON.stringify(body) });
  const create = async (body: Record<string, unknown> = {}) => {
    const res = await post({ extractionId: extraction.id, ...body });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    return createdTrainingSchema.parse(json);
  };
  const fieldsOf = async (res: Response) => {
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(400);
    const err = errorBodySchema.parse(body).error;
    expect(err.code).toBe('invalid_request');
    return { fields: [...new Set((err.details as { field: string }[]).map((d) => d.field))].sort(), message: err.message };
  };
  const control = async (id: string, action: string, status = 202) => {
    const res = await t.request(`/api/trainings/${id}/${action}`, { method: 'POST' });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(status);
    return json;
  };

  it('queues a training with its config resolved (defaults, every hook of the extraction) and its sae.train job; the list shows queue positions', async () => {
    const a = await create();
    expect(a.job.kind).toBe('sae.train');
    const smallest = Math.min(...Object.values(rows));
    expect(a.training).toMatchObject({
      extractionId: extraction.id,
      modelId: DEMO_MODEL_ID,
      modelName: expect.stringMatching(/tiny-gpt2/),
      datasetName: 'demo slice',
      hookPoints: HOOKS,
      status: 'queued',
      control: null,
      progress: null,
      stopped: false,
      jobId: a.job.id,
      queuePosition: 1,
      name: 'topk k=32 ×8 on blocks.1.hook_resid_post, blocks.2.mlp.hook_post',
      config: {
        architecture: 'topk',
        dSae: null,
        expansionFactor: 8,
        k: 32,
        lr: TRAIN_DEFAULTS.lr,
        batchSize: 1024,
        totalTokens: smallest,
        bDecInit: 'mean',
        normalizeInputs: true,
        evalEvery: 500,
        evalWindows: 4,
        checkpointEvery: 500,
        metricsEvery: 10,
        seed: 42,
      },
    });
    const b = await create({ hookPoints: [HOOKS[0]], name: 'second', config: { architecture: 'relu', dSae: 512, l1Coefficient: 2, lr: 1e-3, batchSize: 256, totalTokens: 2560 } });
    expect(b.training).toMatchObject({ name: 'second', hookPoints: [HOOKS[0]], queuePosition: 2, config: { architecture: 'relu', dSae: 512, expansionFactor: null, l1Coefficient: 2, batchSize: 256, totalTokens: 2560 } });
    const list = trainingListSchema.parse(await (await t.request(`/api/trainings?extractionId=${extraction.id}`)).json()).trainings;
    expect(list.map((x) => [x.id, x.queuePosition])).toEqual([
      [b.training.id, 2],
      [a.training.id, 1],
    ]);
    expect((await t.boss.getJobById('sae.train', a.job.id))?.data).toEqual({ trainingId: a.training.id });
    const queued = trainingListSchema.parse(await (await t.request('/api/trainings?status=queued&limit=1')).json()).trainings;
    expect(queued).toHaveLength(1);
  });

  it('answers 400 naming the field for every bad hyperparameter and reference', async () => {
    const extra = (config: Record<string, unknown>) => post({ extractionId: extraction.id, config });
    expect((await fieldsOf(await extra({ lr: -1 }))).fields).toEqual(['config.lr']);
    expect((await fieldsOf(await extra({ architecture: 'gated' }))).fields).toEqual(['config.architecture']);
    expect((await fieldsOf(await extra({ dSae: 512, expansionFactor: 4 }))).fields).toEqual(['config.dSae']);
    expect((await fieldsOf(await extra({ beta2: 1 }))).fields).toEqual(['config.beta2']);
    expect((await fieldsOf(await extra({ batchSize: 0, seed: 1.5 }))).fields).toEqual(['config.batchSize', 'config.seed']);
    expect((await fieldsOf(await extra({ bDecInit: 'median' }))).fields).toEqual(['config.bDecInit']);
    expect((await fieldsOf(await extra({ learningRate: 1 }))).fields).toEqual(['config.learningRate']);
    expect((await fieldsOf(await extra({ lrDecayFraction: 2, denseThreshold: 0 }))).fields).toEqual(['config.denseThreshold', 'config.lrDecayFraction']);
    // against the stored activations
    const k = await fieldsOf(await extra({ dSae: 16, k: 16 }));
    expect(k).toMatchObject({ fields: ['config.k'], message: expect.stringMatching(/must be below d_sae \(16 for blocks\.1\.hook_resid_post\)/) });
    const batch = await fieldsOf(await extra({ batchSize: 60_000 }));
    expect(batch).toMatchObject({ fields: ['config.batchSize'], message: expect.stringMatching(/more than the \d+ rows stored for blocks\.1\.hook_resid_post/) });
    expect((await fieldsOf(await extra({ expansionFactor: 0.001 }))).message).toMatch(/config\.expansionFactor: gives d_sae 0 for blocks\.1\.hook_resid_post \(d_in 256\)/);
    expect((await fieldsOf(await post({ extractionId: extraction.id, hookPoints: ['blocks.5.hook_resid_post'] }))).fields).toEqual(['hookPoints.0']);
    expect((await fieldsOf(await post({ extractionId: extraction.id, hookPoints: [HOOKS[0], HOOKS[0]] }))).fields).toEqual(['hookPoints']);
    expect((await fieldsOf(await post({ extractionId: '00000000-0000-4000-8000-000000000001' }))).fields).toEqual(['extractionId']);
    expect((await fieldsOf(await post({ extractionId: 'nope' }))).fields).toEqual(['extractionId']);
    expect((await fieldsOf(await post({ extractionId: extraction.id, templateId: '00000000-0000-4000-8000-000000000001' }))).fields).toEqual(['templateId']);
    const running = await insertExtraction(db.db, { modelId: DEMO_MODEL_ID, datasetId: extraction.datasetId, hookPoints: HOOKS, settings: extraction.settings });
    expect((await fieldsOf(await post({ extractionId: running.id }))).message).toMatch(/extractionId: extraction .* is queued: train once it has completed/);
  });

  it('shows a training with each hook\'s SAE size, and its metric history paged by whole steps, a resumed step overwriting its point', async () => {
    const { training } = await create({ config: { architecture: 'topk', k: 16, expansionFactor: 2, batchSize: 128, totalTokens: 128 * 40, metricsEvery: 10 } });
    let detail = trainingDetailSchema.parse(await (await t.request(`/api/trainings/${training.id}`)).json());
    expect(detail).toMatchObject({ totalSteps: 40, status: 'queued' });
    expect(detail.hooks).toEqual([
      { hook: HOOKS[0], dIn: 256, dSae: 512, checkpoint: null, latest: null, latestEval: null, saeId: null },
      { hook: HOOKS[1], dIn: 1024, dSae: 2048, checkpoint: null, latest: null, latestEval: null, saeId: null },
    ]);
    const values = (loss: number): TrainMetricValues => ({ loss, mse: loss, l1: 0, l0: 16, explainedVariance: 0.5, deadFraction: 0, denseFraction: 0, lr: 1e-3, l1Coefficient: 0, tokensPerSecond: 100 });
    const ev: EvalValues = { density: { edges: [-1, 0], counts: [3], dead: 1, tokens: 1280 }, ceLossClean: 3, ceLossSpliced: 3.5, ceLossZero: 5, ceLossRecovered: 0.75 };
    for (const step of [10, 20, 30]) await upsertMetrics(db.db, training.id, HOOKS.map((hook) => ({ hook, step, tokens: step * 128, train: values(step) })));
    await upsertMetrics(db.db, training.id, [{ hook: HOOKS[0], step: 20, tokens: 2560, eval: ev }]);
    // a resumed run reports step 30 again: overwritten, not duplicated; its evaluation merges into the point
    await upsertMetrics(db.db, training.id, [{ hook: HOOKS[0], step: 30, tokens: 3840, train: values(31) }]);
    const page = (q: string) => t.request(`/api/trainings/${training.id}/metrics${q}`).then(async (r) => metricsPageSchema.parse(await r.json()));
    const all = await page('');
    expect(all.next).toBeNull();
    expect(all.points.map((p) => [p.step, p.hook, p.train?.loss, p.eval?.ceLossRecovered ?? null])).toEqual([
      [10, HOOKS[0], 10, null],
      [10, HOOKS[1], 10, null],
      [20, HOOKS[0], 20, 0.75],
      [20, HOOKS[1], 20, null],
      [30, HOOKS[0], 31, null],
      [30, HOOKS[1], 30, null],
    ]);
    // a page of 3 ends at step 10 (not inside step 20), and the next one starts after it
    const first = await page('?limit=3');
    expect(first.points.map((p) => p.step)).toEqual([10, 10]);
    expect(first.next).toBe(10);
    const second = await page(`?limit=3&after=${first.next}`);
    expect(second.points.map((p) => p.step)).toEqual([20, 20]);
    expect((await page(`?hook=${HOOKS[1]}&after=10`)).points.map((p) => p.step)).toEqual([20, 30]);
    expect((await page('?limit=1')).points).toHaveLength(1);
    expect((await t.request(`/api/trainings/${training.id}/metrics?limit=0`)).status).toBe(400);
    detail = trainingDetailSchema.parse(await (await t.request(`/api/trainings/${training.id}`)).json());
    expect(detail.hooks[0]).toMatchObject({ latest: { step: 30, train: { loss: 31 } }, latestEval: { step: 20, eval: { ceLossRecovered: 0.75 } } });
    expect((await t.request('/api/trainings/00000000-0000-4000-8000-000000000001')).status).toBe(404);
    expect((await t.request('/api/trainings/00000000-0000-4000-8000-000000000001/metrics')).status).toBe(404);
  });

  it('pauses a queued training at once (its job cancelled), resumes it with a new job, stops it, and retries a failed one', async () => {
    const { training, job } = await create({ hookPoints: [HOOKS[0]], config: { batchSize: 256, totalTokens: 2560 } });
    const paused = trainingControlResultSchema.parse(await control(training.id, 'pause'));
    expect(paused).toMatchObject({ training: { status: 'paused', queuePosition: null, control: null }, job: null });
    expect((await t.boss.getJobById('sae.train', job.id))?.state).toBe('cancelled');
    await control(training.id, 'pause', 409);
    await control(training.id, 'retry', 409);
    const resumed = trainingControlResultSchema.parse(await control(training.id, 'resume'));
    expect(resumed.job?.kind).toBe('sae.train');
    expect(resumed.training).toMatchObject({ status: 'queued', jobId: resumed.job!.id, queuePosition: expect.any(Number) });
    await control(training.id, 'resume', 409);
    // a queued training keeps its job: the request waits for it
    const stopped = trainingControlResultSchema.parse(await control(training.id, 'stop'));
    expect(stopped).toMatchObject({ training: { status: 'queued', control: 'stop' }, job: null });
    // a running one gets the request in its row
    await updateTraining(db.db, training.id, { status: 'running', control: null });
    expect(trainingControlResultSchema.parse(await control(training.id, 'pause')).training).toMatchObject({ status: 'running', control: 'pause' });
    // a paused one is stopped by a new job that saves the SAEs from its checkpoints
    await updateTraining(db.db, training.id, { status: 'paused', control: null });
    const fromPause = trainingControlResultSchema.parse(await control(training.id, 'stop'));
    expect(fromPause.training).toMatchObject({ status: 'queued', control: 'stop' });
    expect(fromPause.job).not.toBeNull();
    // failed: retried from its checkpoints by a new job
    await updateTraining(db.db, training.id, { status: 'failed', control: null, error: 'boom', finishedAt: new Date() });
    const retried = trainingControlResultSchema.parse(await control(training.id, 'retry'));
    expect(retried.training).toMatchObject({ status: 'queued', error: null, finishedAt: null, jobId: retried.job!.id });
    await updateTraining(db.db, training.id, { status: 'completed' });
    for (const action of ['pause', 'resume', 'stop', 'retry']) {
      const body = errorBodySchema.parse(await control(training.id, action, 409));
      expect(body.error.message).toMatch(/is completed/);
    }
    expect((await t.request('/api/trainings/00000000-0000-4000-8000-000000000001/pause', { method: 'POST' })).status).toBe(404);
  });

  it('a cancel through the jobs API cancels the training', async () => {
    const { training, job } = await create({ hookPoints: [HOOKS[0]], config: { batchSize: 256, totalTokens: 2560 } });
    expect((await t.request(`/api/jobs/${job.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(trainingSchema.parse(await (await t.request(`/api/trainings/${training.id}`)).json())).toMatchObject({ status: 'cancelled', queuePosition: null });
    expect(trainingControlResultSchema.parse(await control(training.id, 'retry')).training.status).toBe('queued');
  });

  it('deletes a training, its metrics and checkpoints, cancelling its job; the SAEs it produced stay with their files', async () => {
    const { training, job } = await create({ config: { batchSize: 256, totalTokens: 2560 } });
    const [kept, dropped] = HOOKS.map((h) => trainingHookDir(dataDir, training.id, h));
    for (const dir of [kept!, dropped!]) {
      mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
      writeFileSync(path.join(dir, 'checkpoints', 'checkpoint.safetensors'), 'x');
      writeFileSync(path.join(dir, 'cfg.json'), '{}');
    }
    await upsertMetrics(db.db, training.id, [{ hook: HOOKS[0]!, step: 10, tokens: 2560 }]);
    await updateTraining(db.db, training.id, { status: 'running' });
    const row = (await getTraining(db.db, training.id))!;
    await completeTraining(db.db, training.id, { progress: initialProgress(row) }, [
      { name: 'kept', modelId: DEMO_MODEL_ID, hookPoint: HOOKS[0]!, architecture: 'topk', dIn: 256, dSae: 2048, cfg: {}, metrics: null, path: kept! },
    ]);
    expect((await t.request(`/api/trainings/${training.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.request(`/api/trainings/${training.id}`)).status).toBe(404);
    expect(existsSync(path.join(kept!, 'cfg.json'))).toBe(true);
    expect(existsSync(path.join(kept!, 'checkpoints'))).toBe(false);
    expect(existsSync(dropped!)).toBe(false);
    const [sae] = (await listSaes(db.db, { hookPoint: HOOKS[0] })).filter((s) => s.name === 'kept');
    expect(sae).toMatchObject({ trainingId: null, path: kept });

    const queued = await create({ hookPoints: [HOOKS[0]], config: { batchSize: 256, totalTokens: 2560 } });
    expect((await t.request(`/api/trainings/${queued.training.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.boss.getJobById('sae.train', queued.job.id))?.state).toBe('cancelled');
    expect(existsSync(path.join(dataDir, 'saes', queued.training.id))).toBe(false);
    expect((await t.request(`/api/trainings/${queued.training.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(job.id).not.toBe(queued.job.id);
  });

  it('saves, lists, uses and deletes templates of config and hook points', async () => {
    const save = (body: unknown) => t.request('/api/training-templates', { method: 'POST', body: JSON.stringify(body) });
    const res = await save({ name: 'relu small', settings: { hookPoints: [HOOKS[1]], config: { architecture: 'relu', expansionFactor: 1, l1Coefficient: 3, batchSize: 256 } } });
    expect(res.status).toBe(201);
    const template = trainingTemplateSchema.parse(await res.json());
    expect((await save({ name: 'RELU SMALL', settings: {} })).status).toBe(409);
    expect((await fieldsOf(await save({ name: 'bad', settings: { config: { lr: 0 } } }))).fields).toEqual(['settings.config.lr']);
    expect((await fieldsOf(await save({ name: '', settings: {} }))).fields).toEqual(['name']);
    expect(trainingTemplateListSchema.parse(await (await t.request('/api/training-templates')).json()).templates.map((x) => x.name)).toEqual(['relu small']);

    // the body's config over the template's; the template's hook points when the body has none; a body size replaces the template's
    const { training } = await create({ templateId: template.id, config: { dSae: 300, totalTokens: 2560 } });
    expect(training).toMatchObject({ hookPoints: [HOOKS[1]], config: { architecture: 'relu', dSae: 300, expansionFactor: null, l1Coefficient: 3, batchSize: 256, totalTokens: 2560 } });

    expect((await t.request(`/api/training-templates/${template.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.request(`/api/training-templates/${template.id}`, { method: 'DELETE' })).status).toBe(404);
  });
});
