/**
 * The datasets API in-process over a real PostgreSQL and pg-boss (no worker:
 * imports stay queued here; workers/dataset-import.test.ts and
 * workers/dataset-import.e2e.test.ts run them).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { createdDatasetSchema, datasetListSchema, datasetSchema } from '../../models/contracts/datasets.ts';
import { DEMO_DATASET_FILE, DEMO_DATASET_NAME } from '../../models/dataset-files.ts';
import { logger } from '../../models/log.ts';
import { DEMO_DATASET_ID } from '../../db/queries/datasets.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { registerDemoDataset } from '../../workers/demo-dataset.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { dispositionFileName } from './datasets.ts';

const LIMIT = 1000;

describe('datasets API', () => {
  let db: TestDatabase;
  let t: TestApp;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-datasets-api-'));
  const datasetsDir = path.join(dataDir, 'datasets');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_datasets_api');
    t = await createTestApp(db, dataDir, { uploadMaxBytes: LIMIT });
    expect(await registerDemoModel(db.db, logger('test'))).toBe(true);
  });
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) => t.request('/api/datasets', { method: 'POST', body: JSON.stringify(body) });
  const upload = (query: string, body: BodyInit | null, headers: Record<string, string> = {}) =>
    t.request(`/api/datasets/upload${query}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers }, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
  const fieldsOf = async (res: Response, status = 400) => {
    expect(res.status).toBe(status);
    const err = errorBodySchema.parse(await res.json()).error;
    expect(err.code).toBe('invalid_request');
    return { fields: [...new Set((err.details as { field: string }[]).map((d) => d.field))].sort(), message: err.message };
  };
  const leftOnDisk = () => (existsSync(datasetsDir) ? readdirSync(datasetsDir) : []);

  it('registers the demo dataset once, even from several workers at once, and queues one import', async () => {
    const log = logger('test');
    const states = await Promise.all([1, 2, 3].map(() => registerDemoDataset({ database: db, boss: t.boss, config: { dataDir }, log })));
    expect(states.filter((s) => s === 'queued')).toHaveLength(1);
    expect(states.filter((s) => s === 'importing')).toHaveLength(2);
    // Again later (a worker restarting): the queued import is alive, nothing new.
    expect(await registerDemoDataset({ database: db, boss: t.boss, config: { dataDir }, log })).toBe('importing');

    const { datasets, uploadMaxBytes } = datasetListSchema.parse(await (await t.request('/api/datasets')).json());
    expect(uploadMaxBytes).toBe(LIMIT);
    expect(datasets).toHaveLength(1);
    expect(datasets[0]).toMatchObject({
      id: DEMO_DATASET_ID,
      name: DEMO_DATASET_NAME,
      builtin: true,
      status: 'queued',
      tokenizerModelId: DEMO_MODEL_ID,
      source: { kind: 'builtin', path: DEMO_DATASET_FILE },
      settings: { textColumn: 'text', addBos: null, addEos: null },
    });
    const jobs = await db.pool.query(`SELECT id, data FROM pgboss.job WHERE name = 'dataset.import'`);
    expect(jobs.rows).toEqual([{ id: datasets[0]!.jobId, data: { datasetId: DEMO_DATASET_ID } }]);
  });

  it('refuses bad bodies with a 400 naming the field', async () => {
    const hub = { kind: 'hub', repo: 'someone/texts' };
    expect((await fieldsOf(await post({}))).fields).toEqual(['source']);
    expect((await fieldsOf(await post({ source: { kind: 'ftp', repo: 'a/b' } }))).fields).toEqual(['source.kind']);
    expect((await fieldsOf(await post({ source: { ...hub, revision: '../main' } }))).fields).toEqual(['source.revision']);
    expect((await fieldsOf(await post({ source: { ...hub, split: 'a/b' } }))).fields).toEqual(['source.split']);
    expect((await fieldsOf(await post({ source: { ...hub, config: '..' } }))).fields).toEqual(['source.config']);
    expect((await fieldsOf(await post({ source: { ...hub, textColumn: '' } }))).fields).toEqual(['source.textColumn']);
    expect((await fieldsOf(await post({ source: { ...hub, files: ['data/../../etc/passwd'] } }))).fields).toEqual(['source.files.0']);
    expect((await fieldsOf(await post({ source: hub, maxTokens: 0 }))).fields).toEqual(['maxTokens']);
    expect((await fieldsOf(await post({ source: hub, maxDocuments: '5' }))).fields).toEqual(['maxDocuments']);
    expect((await fieldsOf(await post({ source: hub, addBos: 'yes' }))).fields).toEqual(['addBos']);
    expect((await fieldsOf(await post({ source: hub, textSplit: 'sentence' }))).fields).toEqual(['textSplit']);
    expect((await fieldsOf(await post({ source: hub, tokenizerModelId: 'gpt2' }))).fields).toEqual(['tokenizerModelId']);

    const repo = await fieldsOf(await post({ source: { ...hub, repo: 'owner/../etc' } }));
    expect(repo.fields).toEqual(['source.repo']);
    expect(repo.message).toMatch(/source\.repo: invalid repository id/);
    const unknownModel = await fieldsOf(await post({ source: hub, tokenizerModelId: '00000000-0000-4000-8000-000000000001' }));
    expect(unknownModel).toMatchObject({ fields: ['tokenizerModelId'] });
    expect(unknownModel.message).toMatch(/no model/);
    // A model whose files are not in cannot tokenize.
    const queuedModel = (await (await t.request('/api/models', { method: 'POST', body: JSON.stringify({ source: { kind: 'hub', repo: 'someone/model' } }) })).json()) as { model: { id: string } };
    const notReady = await fieldsOf(await post({ source: hub, tokenizerModelId: queuedModel.model.id }));
    expect(notReady.message).toMatch(/tokenizerModelId: .* is queued/);
    expect((await t.request('/api/datasets', { method: 'POST', body: '{nope' })).status).toBe(400);
  });

  it('queues a hub import: 202 with the queued dataset and its dataset.import job', async () => {
    const res = await post({ source: { kind: 'hub', repo: 'someone/wiki-texts', split: 'validation' }, maxTokens: 5000 });
    expect(res.status).toBe(202);
    const { dataset, job } = createdDatasetSchema.parse(await res.json());
    expect(dataset).toMatchObject({
      name: 'wiki-texts (validation)',
      source: { kind: 'hub', repo: 'someone/wiki-texts', revision: 'main', split: 'validation', textColumn: 'text' },
      status: 'queued',
      builtin: false,
      tokenizerModelId: DEMO_MODEL_ID,
      settings: { textColumn: 'text', textSplit: 'paragraph', onBadRow: 'error', addBos: null, addEos: null, maxDocuments: null, maxTokens: 5000 },
      stats: null,
      progress: null,
      jobId: job.id,
    });
    expect(job.kind).toBe('dataset.import');
    expect(await t.boss.getJobById('dataset.import', job.id)).toMatchObject({ state: 'created', data: { datasetId: dataset.id }, retryLimit: 2 });
    expect(datasetSchema.parse(await (await t.request(`/api/datasets/${dataset.id}`)).json())).toMatchObject({ id: dataset.id, status: 'queued' });
    const list = datasetListSchema.parse(await (await t.request('/api/datasets')).json()).datasets;
    expect(list[0]!.id).toBe(DEMO_DATASET_ID);
    expect(list[1]!.id).toBe(dataset.id);
    // Not imported yet: no statistics or samples.
    for (const sub of ['stats', 'samples']) {
      const early = await t.request(`/api/datasets/${dataset.id}/${sub}`);
      expect(early.status).toBe(409);
      expect(errorBodySchema.parse(await early.json()).error.message).toMatch(/is queued/);
    }
  });

  it('stores an upload under the dataset folder and queues its import; the file name from the query or Content-Disposition', async () => {
    const text = '{"text": "hello"}\n{"text": "world"}\n';
    const res = await upload('?filename=My%20Data%20(1).jsonl&textColumn=text&maxDocuments=10&addEos=false', text);
    expect(res.status).toBe(202);
    const { dataset, job } = createdDatasetSchema.parse(await res.json());
    expect(dataset).toMatchObject({
      name: 'My_Data__1_.jsonl',
      source: { kind: 'upload', fileName: 'My_Data__1_.jsonl', bytes: text.length },
      status: 'queued',
      settings: { maxDocuments: 10, addEos: false, addBos: null },
    });
    expect(readFileSync(path.join(datasetsDir, dataset.id, 'raw', 'My_Data__1_.jsonl'), 'utf8')).toBe(text);
    expect(await t.boss.getJobById('dataset.import', job.id)).toMatchObject({ state: 'created', data: { datasetId: dataset.id } });

    const named = await upload('?name=Zipped', 'PK...', { 'content-disposition': 'attachment; filename="corpus.zip"' });
    expect(named.status).toBe(202);
    expect(createdDatasetSchema.parse(await named.json()).dataset).toMatchObject({ name: 'Zipped', source: { kind: 'upload', fileName: 'corpus.zip' } });
    expect(dispositionFileName(`attachment; filename*=UTF-8''caf%C3%A9.txt`)).toBe('café.txt');
    expect(dispositionFileName('attachment; filename=plain.csv')).toBe('plain.csv');
  });

  it('refuses bad uploads with a 400 naming the field, leaving nothing on disk', async () => {
    const before = leftOnDisk();
    expect((await fieldsOf(await upload('', 'x'))).fields).toEqual(['filename']);
    const exe = await fieldsOf(await upload('?filename=run.exe', 'x'));
    expect(exe.fields).toEqual(['filename']);
    expect(exe.message).toMatch(/not a dataset file/);
    expect((await fieldsOf(await upload('?filename=a.txt&maxDocuments=lots', 'x'))).fields).toEqual(['maxDocuments']);
    expect((await fieldsOf(await upload('?filename=a.txt&addBos=maybe', 'x'))).fields).toEqual(['addBos']);
    expect((await fieldsOf(await upload('?filename=a.txt&tokenizerModelId=x', 'x'))).fields).toEqual(['tokenizerModelId']);
    expect((await fieldsOf(await upload('?filename=a.txt', ''))).fields).toEqual(['body']);
    expect(leftOnDisk()).toEqual(before);
  });

  it('answers an upload over the limit with a 413 naming the limit, and keeps nothing', async () => {
    const before = leftOnDisk();
    const rows = (await t.request('/api/datasets').then((r) => r.json())) as { datasets: unknown[] };
    // Declared too large: refused before reading.
    const declared = await upload('?filename=big.txt', 'x'.repeat(LIMIT + 1));
    expect(declared.status).toBe(413);
    const err = errorBodySchema.parse(await declared.json()).error;
    expect(err).toMatchObject({ code: 'payload_too_large', details: { field: 'body', limitBytes: LIMIT } });
    expect(err.message).toMatch(new RegExp(`upload limit of ${LIMIT} bytes`));
    // No length given (a stream): refused as the bytes pass the limit, the partial file removed.
    const chunks = [new Uint8Array(600).fill(65), new Uint8Array(600).fill(66)];
    const stream = new ReadableStream<Uint8Array>({ pull: (c) => (chunks.length ? c.enqueue(chunks.shift()!) : c.close()) });
    const streamed = await upload('?filename=big.txt', stream);
    expect(streamed.status).toBe(413);
    expect(errorBodySchema.parse(await streamed.json()).error.details).toMatchObject({ limitBytes: LIMIT });
    expect(leftOnDisk()).toEqual(before);
    expect(((await t.request('/api/datasets').then((r) => r.json())) as { datasets: unknown[] }).datasets).toHaveLength(rows.datasets.length);
  });

  it('deletes a dataset: cancels its job, removes the row and its folder; 409 for the demo, 404 after', async () => {
    const { dataset, job } = createdDatasetSchema.parse(await (await upload('?filename=gone.txt', 'some text')).json());
    const dir = path.join(datasetsDir, dataset.id);
    expect(existsSync(dir)).toBe(true);
    const res = await t.request(`/api/datasets/${dataset.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(existsSync(dir)).toBe(false);
    expect((await t.boss.getJobById('dataset.import', job.id))?.state).toBe('cancelled');
    expect((await t.request(`/api/datasets/${dataset.id}`)).status).toBe(404);
    expect((await t.request(`/api/datasets/${dataset.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await t.request(`/api/datasets/${dataset.id}/stats`)).status).toBe(404);

    const demo = await t.request(`/api/datasets/${DEMO_DATASET_ID}`, { method: 'DELETE' });
    expect(demo.status).toBe(409);
    expect(errorBodySchema.parse(await demo.json()).error.message).toMatch(/built in/);
    expect((await t.request('/api/datasets/not-an-id')).status).toBe(400);
    expect((await fieldsOf(await t.request(`/api/datasets/${DEMO_DATASET_ID}/samples?limit=1000`))).fields).toEqual(['limit']);
  });

  it('cancelling a queued import through the jobs API marks the dataset cancelled', async () => {
    const { dataset, job } = createdDatasetSchema.parse(await (await post({ source: { kind: 'hub', repo: 'someone/other' } })).json());
    expect((await t.request(`/api/jobs/${job.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(datasetSchema.parse(await (await t.request(`/api/datasets/${dataset.id}`)).json()).status).toBe('cancelled');
  });
});
