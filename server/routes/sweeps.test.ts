/**
 * The sweeps API in-process over a real PostgreSQL and pg-boss (no worker:
 * jobs stay queued here; workers/sweep.test.ts runs the coordinator): the
 * spec resolved (defaults, the template's config under the base); 400s
 * naming the field, a space's corners included, and a 422 for a corner too
 * large for the largest worker; the list and the detail
 * with trials scored from their trainings' metrics, the best marked;
 * cancel (the trials' trainings cancelled with their jobs), also through
 * the jobs API; delete (the trainings stay); a trial's template and its
 * full-length training.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { createdSweepSchema, sweepDetailSchema, sweepListSchema, sweepSchema, TRIAL_STATUSES, type CreateSweep } from '../../models/contracts/sweeps.ts';
import { createdTrainingSchema, trainingTemplateSchema, type TrainMetricValues } from '../../models/contracts/trainings.ts';
import { logger } from '../../models/log.ts';
import { resolveTrainConfig } from '../../models/sae/config.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import { insertTrial } from '../../db/queries/sweeps.ts';
import { getTraining, updateTraining, upsertMetrics } from '../../db/queries/trainings.ts';
import { removeWorker, upsertWorker } from '../../db/queries/workers.ts';
import { sweepTrials } from '../../db/schema.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { insertCompletedDataset, tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { completedExtraction } from '../../scripts/testing/training.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { queueTraining } from '../artifacts/trainings.ts';

const HOOKS: [string, string] = ['blocks.1.hook_resid_post', 'blocks.2.mlp.hook_post'];
const BASE = { architecture: 'topk', batchSize: 256, totalTokens: 256 * 30, metricsEvery: 5, evalEvery: 0, evalWindows: 0 } as const;
const SPACE = { k: { type: 'int', min: 8, max: 32, log: true }, lr: { type: 'float', min: 1e-4, max: 1e-2, log: true } } as const;
const OBJECTIVE = { metric: 'explainedVariance', constraints: [{ metric: 'l0', op: '<=', value: 20 }] } as const;

describe('sweeps API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let extraction: ExtractionRow;
  let rows: number;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-sweeps-api-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_sweeps_api');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(dataDir, 'datasets', 'slice');
    const dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 6000));
    extraction = await completedExtraction(db.db, dataDir, dataset, HOOKS);
    rows = (await t.deps.extractions.summary(extraction.id))!.hooks[0]!.rows;
  });
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) => t.request('/api/sweeps', { method: 'POST', body: JSON.stringify(body) });
  const create = async (body: Partial<CreateSweep> = {}) => {
    const res = await post({ extractionId: extraction.id, base: BASE, space: SPACE, objective: OBJECTIVE, ...body });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    return createdSweepSchema.parse(json);
  };
  const detail = async (id: string) => sweepDetailSchema.parse(await (await t.request(`/api/sweeps/${id}`)).json());
  const fieldsOf = async (res: Response, status = 400) => {
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(status);
    const err = errorBodySchema.parse(body).error;
    return { fields: [...new Set((err.details as { field: string }[]).map((d) => d.field))].sort(), message: err.message };
  };
  /** A trial made as the coordinator makes it: its training queued with its job, then the trial row. */
  const addTrial = async (sweepId: string, number: number, params: Record<string, number>) => {
    const config = resolveTrainConfig([{ ...BASE, ...params }], rows);
    const { training, job } = await queueTraining(t.deps, { name: `trial ${number}`, extractionId: extraction.id, hookPoints: [HOOKS[0]], config });
    await insertTrial(db.db, { sweepId, number, params, trainingId: training.id });
    return { trainingId: training.id, jobId: job.id };
  };
  const values = (explainedVariance: number, l0: number): TrainMetricValues => ({ loss: 1, mse: 1, l1: 0, l0, explainedVariance, deadFraction: 0, denseFraction: 0, lr: 1e-3, l1Coefficient: 0, tokensPerSecond: 100 });

  it('names the trial statuses of the database', () => {
    expect([...TRIAL_STATUSES]).toEqual([...sweepTrials.status.enumValues]);
  });

  it('queues a sweep with its spec resolved and its sweep.run job; the list is newest first', async () => {
    const { sweep, job } = await create();
    expect(job.kind).toBe('sweep.run');
    expect(sweep).toMatchObject({
      name: 'tpe over k, lr',
      extractionId: extraction.id,
      modelName: expect.stringMatching(/tiny-gpt2/),
      datasetName: 'demo slice',
      status: 'queued',
      jobId: job.id,
      objectiveText: 'max explained variance with L0 ≤ 20',
      progress: { trials: 0, running: 0, completed: 0, pruned: 0, failed: 0, cancelled: 0, best: null },
      spec: {
        hookPoint: HOOKS[0],
        base: BASE,
        templateId: null,
        purpose: 'sweep tpe over k, lr',
        space: SPACE,
        method: 'tpe',
        seed: 0,
        objective: { ...OBJECTIVE, direction: 'maximize' },
        budget: 20,
        parallelism: 2,
        // a third of the base's 30 steps
        pruner: { enabled: true, warmupSteps: 10, minTrials: 3 },
      },
    });
    expect((await t.boss.getJobById('sweep.run', job.id))?.data).toEqual({ sweepId: sweep.id });

    // a grid: its size as the budget, no pruner; the template's config under the base, the hook point given
    const template = trainingTemplateSchema.parse(
      await (await t.request('/api/training-templates', { method: 'POST', body: JSON.stringify({ name: 'relu base', settings: { config: { architecture: 'relu', l1Coefficient: 2, batchSize: 128 } } }) })).json(),
    );
    const grid = await create({
      name: 'grid',
      hookPoint: HOOKS[1],
      templateId: template.id,
      base: { batchSize: 256, totalTokens: 256 * 12 },
      method: 'grid',
      space: { l1Coefficient: { type: 'choice', values: [1, 3] }, lr: { type: 'float', min: 1e-4, max: 1e-3, points: 3 } },
      purpose: 'sparse mlp',
    });
    expect(grid.sweep.spec).toMatchObject({ hookPoint: HOOKS[1], templateId: template.id, base: { architecture: 'relu', l1Coefficient: 2, batchSize: 256, totalTokens: 256 * 12 }, budget: 6, purpose: 'sparse mlp', pruner: { enabled: false, warmupSteps: 4 } });
    const list = sweepListSchema.parse(await (await t.request(`/api/sweeps?extractionId=${extraction.id}`)).json()).sweeps;
    expect(list.map((s) => s.id).slice(0, 2)).toEqual([grid.sweep.id, sweep.id]);
    expect(sweepListSchema.parse(await (await t.request('/api/sweeps?status=queued&limit=1')).json()).sweeps).toHaveLength(1);
    expect(await detail(sweep.id)).toMatchObject({ id: sweep.id, trials: [], importance: { k: 0, lr: 0 } });
  });

  it('answers 400 naming the field: the body, the extraction and hook point, and every corner of the space', async () => {
    const bad = (body: Record<string, unknown>) => post({ extractionId: extraction.id, base: BASE, space: SPACE, objective: OBJECTIVE, ...body });
    expect((await fieldsOf(await bad({ space: { depth: { type: 'int', min: 1, max: 3 } } }))).fields).toEqual(['space.depth']);
    expect((await fieldsOf(await bad({ space: { lr: { type: 'float', min: 1e-2, max: 1e-2 } } }))).fields).toEqual(['space.lr.max']);
    expect((await fieldsOf(await bad({ method: 'grid', budget: 26 }))).fields).toEqual(['budget']);
    expect((await fieldsOf(await bad({ objective: { metric: 'sparsity' } }))).fields).toEqual(['objective.metric']);
    expect((await fieldsOf(await bad({ hookPoint: 'blocks.5.hook_resid_post' }))).fields).toEqual(['hookPoint']);
    expect((await fieldsOf(await bad({ templateId: '00000000-0000-4000-8000-000000000001' }))).fields).toEqual(['templateId']);
    expect((await fieldsOf(await bad({ extractionId: '00000000-0000-4000-8000-000000000001' }))).fields).toEqual(['extractionId']);
    // corners: k at its max against the smallest swept d_sae; a batch the store cannot fill; the base alone
    const k = await fieldsOf(await bad({ space: { k: { type: 'int', min: 8, max: 128 }, dSae: { type: 'choice', values: [512, 64, 1024] } } }));
    expect(k.fields).toEqual(['space.k.max']);
    expect(k.message).toMatch(/must be below d_sae \(64 .*at k=128, dSae=64/);
    expect((await fieldsOf(await bad({ space: { batchSize: { type: 'int', min: 256, max: rows + 1 } } }))).fields).toEqual(['space.batchSize.max']);
    expect((await fieldsOf(await bad({ base: { ...BASE, batchSize: rows + 1 } }))).fields).toEqual(['base.batchSize']);
    // k (the default 32) is the base's: topk at the smallest d_sae breaks it
    const arch = await fieldsOf(await bad({ base: { ...BASE, architecture: 'relu' }, space: { architecture: { type: 'choice', values: ['relu', 'topk'] }, dSae: { type: 'int', min: 16, max: 64 } } }));
    expect(arch.fields).toEqual(['base.k']);
    expect(arch.message).toMatch(/at architecture=topk, dSae=16/);
  });

  it('refuses with a 422 a space whose largest corner the largest worker cannot hold, naming that corner', async () => {
    await upsertWorker(db.db, { id: 'w-16g', host: 'test-host', pid: 1, concurrency: 1, queues: ['sae.train'], memoryBytes: 16 * 1024 ** 3, startedAt: Date.now(), lastSeen: Date.now() });
    try {
      const p = await fieldsOf(await post({ extractionId: extraction.id, base: BASE, space: { dSae: { type: 'int', min: 64, max: 1 << 20 }, batchSize: { type: 'choice', values: [256, 65_536] } }, objective: OBJECTIVE }), 422);
      expect(p.fields).toEqual(['space.batchSize.values.1']);
      expect(p.message).toMatch(/^This training needs about [\d.]+ GiB of memory .* \(at dSae=1048576, batchSize=65536\)$/);
    } finally {
      await removeWorker(db.db, 'w-16g');
    }
  });

  it('shows the trials scored from their trainings\' metrics: the objective, the constraints kept, the best marked, the importance', async () => {
    const { sweep } = await create({ name: 'scored', budget: 5 });
    const trials = [
      await addTrial(sweep.id, 0, { k: 8, lr: 1e-3 }),
      await addTrial(sweep.id, 1, { k: 16, lr: 1e-3 }),
      await addTrial(sweep.id, 2, { k: 32, lr: 1e-3 }),
      await addTrial(sweep.id, 3, { k: 16, lr: 1e-2 }),
    ];
    // three completed (the third breaks L0 ≤ 20), one running with an intermediate point
    const finals: [number, number][] = [[0.6, 8], [0.7, 16], [0.9, 32]];
    for (const [i, [ev, l0]] of finals.entries()) {
      await upsertMetrics(db.db, trials[i]!.trainingId, [{ hook: HOOKS[0], step: 5, tokens: 1280, train: values(ev / 2, l0) }, { hook: HOOKS[0], step: 30, tokens: 7680, train: values(ev, l0) }]);
      await updateTraining(db.db, trials[i]!.trainingId, { status: 'completed' });
    }
    await db.db.update(sweepTrials).set({ status: 'completed' }).where(inArray(sweepTrials.trainingId, trials.slice(0, 3).map((x) => x.trainingId)));
    await upsertMetrics(db.db, trials[3]!.trainingId, [{ hook: HOOKS[0], step: 10, tokens: 2560, train: values(0.5, 16) }]);
    await updateTraining(db.db, trials[3]!.trainingId, { status: 'running' });

    const d = await detail(sweep.id);
    expect(d.progress).toEqual({ trials: 4, running: 1, completed: 3, pruned: 0, failed: 0, cancelled: 0, best: { number: 1, value: 0.7, params: { k: 16, lr: 1e-3 } } });
    expect(d.trials.map((x) => [x.number, x.status, x.objective, x.feasible, x.best])).toEqual([
      [0, 'completed', 0.6, true, false],
      [1, 'completed', 0.7, true, true],
      [2, 'completed', 0.9, false, false],
      [3, 'running', 0.5, true, false],
    ]);
    expect(d.trials[1]).toMatchObject({ score: 0.7, trainingId: trials[1]!.trainingId, training: { status: 'completed', step: 0, totalSteps: 30, stopped: false }, final: { explainedVariance: 0.7, l0: 16, ceLossRecovered: null } });
    expect(d.trials[2]!.score).toBeLessThan(-1e9);
    expect(Object.keys(d.importance)).toEqual(['k', 'lr']);
  });

  it('cancels a sweep with its running trials\' trainings and jobs; again is a 409; the jobs API cancels one too', async () => {
    const { sweep, job } = await create({ name: 'to cancel' });
    const trial = await addTrial(sweep.id, 0, { k: 8, lr: 1e-3 });
    const res = await t.request(`/api/sweeps/${sweep.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(sweepSchema.parse(await res.json())).toMatchObject({ status: 'cancelled', finishedAt: expect.any(Number), progress: { trials: 1, running: 0, cancelled: 1 } });
    expect((await detail(sweep.id)).trials[0]).toMatchObject({ status: 'cancelled', reason: 'the sweep was cancelled', training: { status: 'cancelled' } });
    expect((await t.boss.getJobById('sweep.run', job.id))?.state).toBe('cancelled');
    expect((await t.boss.getJobById('sae.train', trial.jobId))?.state).toBe('cancelled');
    const again = await t.request(`/api/sweeps/${sweep.id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(errorBodySchema.parse(await again.json()).error.message).toMatch(/is cancelled/);

    const other = await create({ name: 'cancelled as a job' });
    const its = await addTrial(other.sweep.id, 0, { k: 8, lr: 1e-3 });
    expect((await t.request(`/api/jobs/${other.job.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(await detail(other.sweep.id)).toMatchObject({ status: 'cancelled', trials: [{ status: 'cancelled' }] });
    expect((await getTraining(db.db, its.trainingId))?.status).toBe('cancelled');
    expect((await t.request('/api/sweeps/00000000-0000-4000-8000-000000000001/cancel', { method: 'POST' })).status).toBe(404);
  });

  it('deletes a sweep and its trials, cancelling it; its trainings stay', async () => {
    const { sweep, job } = await create({ name: 'to delete' });
    const trial = await addTrial(sweep.id, 0, { k: 8, lr: 1e-3 });
    expect((await t.request(`/api/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.request(`/api/sweeps/${sweep.id}`)).status).toBe(404);
    expect((await t.boss.getJobById('sweep.run', job.id))?.state).toBe('cancelled');
    expect((await getTraining(db.db, trial.trainingId))?.status).toBe('cancelled');
    expect((await t.request(`/api/sweeps/${sweep.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('saves a trial\'s config as a training template, and trains it at full length', async () => {
    const { sweep } = await create({ name: 'winner', purpose: 'sweep resid codes' });
    await addTrial(sweep.id, 0, { k: 16, lr: 2e-3 });
    const url = (n: number, what: string) => `/api/sweeps/${sweep.id}/trials/${n}/${what}`;
    const saved = await t.request(url(0, 'template'), { method: 'POST', body: JSON.stringify({ name: 'sweep winner' }) });
    expect(saved.status).toBe(201);
    expect(trainingTemplateSchema.parse(await saved.json())).toMatchObject({ name: 'sweep winner', settings: { hookPoints: [HOOKS[0]], config: { ...BASE, k: 16, lr: 2e-3 } } });
    expect((await t.request(url(0, 'template'), { method: 'POST', body: JSON.stringify({ name: 'Sweep Winner' }) })).status).toBe(409);
    expect((await fieldsOf(await t.request(url(0, 'template'), { method: 'POST', body: JSON.stringify({ name: '' }) }))).fields).toEqual(['name']);
    const missing = await t.request(url(7, 'template'), { method: 'POST', body: JSON.stringify({ name: 'x' }) });
    expect(missing.status).toBe(404);
    expect(errorBodySchema.parse(await missing.json()).error.details).toEqual({ field: 'number' });

    // the base's totalTokens unless the body gives one; the purpose without `sweep `
    const full = createdTrainingSchema.parse(await (await t.request(url(0, 'train'), { method: 'POST', body: JSON.stringify({ totalTokens: 256 * 100 }) })).json());
    expect(full.job.kind).toBe('sae.train');
    expect(full.training).toMatchObject({ name: 'winner #0, full length', hookPoints: [HOOKS[0]], purpose: 'resid codes', status: 'queued', config: { k: 16, lr: 2e-3, batchSize: 256, totalTokens: 256 * 100 } });
    const named = createdTrainingSchema.parse(await (await t.request(url(0, 'train'), { method: 'POST', body: JSON.stringify({ name: 'final', purpose: 'prod' }) })).json());
    expect(named.training).toMatchObject({ name: 'final', purpose: 'prod', config: { totalTokens: BASE.totalTokens } });
    expect((await fieldsOf(await t.request(url(0, 'train'), { method: 'POST', body: JSON.stringify({ totalTokens: 0 }) }))).fields).toEqual(['totalTokens']);
    expect((await t.request(`/api/sweeps/${sweep.id}/trials/3/train`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
