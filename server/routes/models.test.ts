/**
 * The models API in-process over a real PostgreSQL and pg-boss (no worker:
 * downloads stay queued here; workers/model-download.e2e.test.ts runs them).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { architectureSchema, createdModelSchema, errorBodySchema, modelListSchema, modelSchema } from '../../models/contracts/api.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR, DEMO_MODEL_NAME, modelDir } from '../../models/model-files.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';

describe('models API', () => {
  let db: TestDatabase;
  let t: TestApp;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-models-api-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_models_api');
    t = await createTestApp(db, dataDir);
    expect(await registerDemoModel(db.db, logger('test'))).toBe(true);
  });
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) => t.request('/api/models', { method: 'POST', body: JSON.stringify(body) });
  const fieldsOf = async (res: Response) => {
    expect(res.status).toBe(400);
    const err = errorBodySchema.parse(await res.json()).error;
    expect(err.code).toBe('invalid_request');
    return { fields: [...new Set((err.details as { field: string }[]).map((d) => d.field))].sort(), message: err.message };
  };

  it('lists the built-in demo model first, as the default, completed, with its size', async () => {
    const res = await t.request('/api/models');
    expect(res.status).toBe(200);
    const { models } = modelListSchema.parse(await res.json());
    expect(models[0]).toMatchObject({ id: DEMO_MODEL_ID, name: DEMO_MODEL_NAME, builtin: true, default: true, status: 'completed', architecture: 'gpt2', dtype: 'fp32' });
    expect(models[0]!.source).toEqual({ kind: 'local', path: DEMO_MODEL_DIR });
    expect(models[0]!.sizeBytes).toBeGreaterThan(14_000_000);
    // registering again (another worker starting) changes nothing
    await registerDemoModel(db.db, logger('test'));
    expect(modelListSchema.parse(await (await t.request('/api/models')).json()).models.filter((m) => m.builtin)).toHaveLength(1);
  });

  it('describes the architecture of a completed model; 409 before its files are in, 404 for an unknown id', async () => {
    const res = await t.request(`/api/models/${DEMO_MODEL_ID}/architecture`);
    expect(res.status).toBe(200);
    const a = architectureSchema.parse(await res.json());
    expect(a).toMatchObject({ modelType: 'gpt2', layers: 6, dModel: 256, nHeads: 8, vocabSize: 8192 });
    expect(a.parameters.total).toBe(6967296);
    expect(a.hookPoints.find((h) => h.name === 'blocks.3.hook_resid_post')).toEqual({ name: 'blocks.3.hook_resid_post', layer: 3, shape: ['batch', 'pos', 256] });
    const queued = createdModelSchema.parse(await (await post({ source: { kind: 'hub', repo: 'someone/not-downloaded-yet' } })).json()).model;
    const early = await t.request(`/api/models/${queued.id}/architecture`);
    expect(early.status).toBe(409);
    expect(errorBodySchema.parse(await early.json()).error.message).toMatch(/is queued/);
    expect((await t.request('/api/models/00000000-0000-4000-8000-000000000000/architecture')).status).toBe(404);
    await t.request(`/api/models/${queued.id}`, { method: 'DELETE' });
  });

  it('refuses bad bodies with a 400 naming the field', async () => {
    expect((await fieldsOf(await post({}))).fields).toEqual(['source']);
    expect((await fieldsOf(await post({ source: { kind: 'ftp', repo: 'a/b' } }))).fields).toEqual(['source.kind']);
    expect((await fieldsOf(await post({ source: { kind: 'hub', repo: 'a/b' }, dtype: 'int3' }))).fields).toEqual(['dtype']);
    expect((await fieldsOf(await post({ source: { kind: 'hub', repo: 'a/b', revision: '../main' } }))).fields).toEqual(['source.revision']);
    expect((await fieldsOf(await post({ source: { kind: 'hub', repo: 'a/b' }, name: '' }))).fields).toEqual(['name']);

    const repo = await fieldsOf(await post({ source: { kind: 'hub', repo: 'owner/../etc' } }));
    expect(repo.fields).toEqual(['source.repo']);
    expect(repo.message).toMatch(/source\.repo: invalid repository id/);
    expect((await fieldsOf(await post({ source: { kind: 'hub', repo: 'a/b/c' } }))).fields).toEqual(['source.repo']);

    const relative = await fieldsOf(await post({ source: { kind: 'local', path: 'models/x' } }));
    expect(relative).toMatchObject({ fields: ['source.path'] });
    expect(relative.message).toMatch(/absolute/);
    const noConfig = path.join(dataDir, 'no-config');
    mkdirSync(noConfig);
    // under DATA_DIR: the message names the folder without saying where the data directory is
    expect((await fieldsOf(await post({ source: { kind: 'local', path: noConfig } }))).message).toMatch(/DATA_DIR\/no-config is not a model folder the server can read/);

    const notJson = await t.request('/api/models', { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
  });

  it('queues a download: 202 with the queued model and its model.download job', async () => {
    const res = await post({ source: { kind: 'hub', repo: 'openai-community/gpt2' }, dtype: 'fp16' });
    expect(res.status).toBe(202);
    const { model, job } = createdModelSchema.parse(await res.json());
    expect(model).toMatchObject({
      name: 'gpt2',
      source: { kind: 'hub', repo: 'openai-community/gpt2', revision: 'main' },
      status: 'queued',
      dtype: 'fp16',
      builtin: false,
      default: false,
      progress: null,
      jobId: job.id,
    });
    expect(job.kind).toBe('model.download');
    const queued = await t.boss.getJobById('model.download', job.id);
    expect(queued).toMatchObject({ state: 'created', data: { modelId: model.id }, retryLimit: 3 });

    const one = await t.request(`/api/models/${model.id}`);
    expect(modelSchema.parse(await one.json())).toMatchObject({ id: model.id, status: 'queued' });
    const list = modelListSchema.parse(await (await t.request('/api/models')).json()).models;
    expect(list.map((m) => m.id)).toEqual([DEMO_MODEL_ID, model.id]);

    const local = await post({ source: { kind: 'local', path: DEMO_MODEL_DIR }, name: 'my copy' });
    expect(local.status).toBe(202);
    expect(createdModelSchema.parse(await local.json()).model).toMatchObject({ name: 'my copy', dtype: 'fp32', source: { kind: 'local', path: DEMO_MODEL_DIR } });
  });

  it('deletes a model: cancels its job, removes the row and its folder; 409 for the demo, 404 after', async () => {
    const { model, job } = createdModelSchema.parse(await (await post({ source: { kind: 'hub', repo: 'someone/model' } })).json());
    const dir = modelDir(dataDir, model.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json.part'), '{');

    const res = await t.request(`/api/models/${model.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(existsSync(dir)).toBe(false);
    expect((await t.boss.getJobById('model.download', job.id))?.state).toBe('cancelled');
    expect((await t.request(`/api/models/${model.id}`)).status).toBe(404);
    expect((await t.request(`/api/models/${model.id}`, { method: 'DELETE' })).status).toBe(404);

    const demo = await t.request(`/api/models/${DEMO_MODEL_ID}`, { method: 'DELETE' });
    expect(demo.status).toBe(409);
    expect(errorBodySchema.parse(await demo.json()).error.message).toMatch(/built in/);
    expect(existsSync(DEMO_MODEL_DIR)).toBe(true);
    expect((await t.request('/api/models/not-an-id')).status).toBe(400);
  });

  it('cancelling a queued download through the jobs API marks the model cancelled', async () => {
    const { model, job } = createdModelSchema.parse(await (await post({ source: { kind: 'hub', repo: 'someone/other' } })).json());
    expect((await t.request(`/api/jobs/${job.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(modelSchema.parse(await (await t.request(`/api/models/${model.id}`)).json()).status).toBe('cancelled');
  });
});
