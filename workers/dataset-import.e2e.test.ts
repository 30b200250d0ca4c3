/**
 * `dataset.import` end to end: a real server process and two real worker
 * processes against one PostgreSQL, a local fake Hugging Face hub serving a
 * dataset repository, uploads over HTTP, progress through the server's
 * WebSocket hub.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../models/contracts/api.ts';
import { createdDatasetSchema, datasetListSchema, datasetSchema, datasetStatsSchema, type Dataset } from '../models/contracts/datasets.ts';
import type { DatasetProgress } from '../models/contracts/topics.ts';
import { DEMO_DATASET_FILE } from '../models/dataset-files.ts';
import { buildZip } from '../models/datasets/fixtures/zip-writer.ts';
import { DEMO_DATASET_ID } from '../db/queries/datasets.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startHubServer, type HubServer } from '../scripts/testing/hf-hub-server.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { startStack, type Stack } from '../scripts/testing/stack.ts';

const FIXTURES = path.join(import.meta.dirname, '..', 'models', 'datasets', 'fixtures');
const UPLOAD_MAX_BYTES = 12 * 1024 * 1024;
const demoText = readFileSync(DEMO_DATASET_FILE, 'utf8');

describe('dataset.import through real processes', () => {
  let db: TestDatabase;
  let hub: HubServer;
  let stack: Stack;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-dataset-e2e-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    const repo = path.join(tmp, 'repo');
    mkdirSync(path.join(repo, 'data'), { recursive: true });
    copyFileSync(path.join(FIXTURES, 'demo-120-zstd.parquet'), path.join(repo, 'data', 'train-00000-of-00001.parquet'));
    writeFileSync(path.join(repo, 'data', 'validation-00000-of-00001.jsonl'), '{"text": "a"}\n');

    db = await createTestDatabase('loupe_dataset_e2e');
    hub = await startHubServer({ repos: [{ repo: 'loupe-test/texts', type: 'dataset', dir: repo }] });
    const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', HF_ENDPOINT: hub.url, UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES), WORKER_CONCURRENCY: '2' };
    // Two workers starting together: both register the demo dataset; one import runs.
    stack = await startStack(env, { workers: 2 });
  });
  afterAll(async () => {
    await stack?.stop();
    await hub?.close();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const api = (p: string, init?: RequestInit) => fetch(`${stack.base}${p}`, init);
  const dataset = async (id: string) => datasetSchema.parse(await (await api(`/api/datasets/${id}`)).json());
  const until = (id: string, statuses: Dataset['status'][], timeoutMs = 15_000) =>
    waitFor(`dataset ${id} to be ${statuses.join(' or ')}`, async () => {
      const d = await dataset(id);
      return statuses.includes(d.status) ? d : undefined;
    }, timeoutMs, 50);
  const subscribe = (id: string) => stack.subscribe(`dataset/${id}`);
  const events = (id: string) => stack.events<DatasetProgress>(`dataset/${id}`);
  const upload = async (fileName: string, body: Buffer | string, query = '') => {
    const res = await api(`/api/datasets/upload?filename=${encodeURIComponent(fileName)}${query}`, { method: 'POST', body: typeof body === 'string' ? body : Uint8Array.from(body), headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status, await res.clone().text()).toBe(202);
    const created = createdDatasetSchema.parse(await res.json());
    subscribe(created.dataset.id);
    return created;
  };

  it('registers the demo dataset once, although two workers started, and tokenizes it: 1,272 documents, 716,294 tokens', async () => {
    subscribe(DEMO_DATASET_ID);
    const done = await until(DEMO_DATASET_ID, ['completed', 'failed'], 20_000);
    expect(done).toMatchObject({ status: 'completed', builtin: true, error: null, stats: { documents: 1272, tokens: 716_294 } });
    const { datasets } = datasetListSchema.parse(await (await api('/api/datasets')).json());
    expect(datasets.filter((d) => d.builtin)).toHaveLength(1);
    // One import job, completed (pg-boss marks it so just after the row).
    const jobs = await waitFor('the job to complete', async () => {
      const { rows } = await db.pool.query(`SELECT state FROM pgboss.job WHERE name = 'dataset.import' AND data->>'datasetId' = $1`, [DEMO_DATASET_ID]);
      return rows.every((r) => r.state === 'completed') ? rows : undefined;
    }, 5000, 20);
    expect(jobs).toEqual([{ state: 'completed' }]);
    const stats = datasetStatsSchema.parse(await (await api(`/api/datasets/${DEMO_DATASET_ID}/stats`)).json());
    expect(stats).toMatchObject({ documents: 1272, tokens: 716_294 });
    expect((await api(`/api/datasets/${DEMO_DATASET_ID}`, { method: 'DELETE' })).status).toBe(409);
  });

  it('imports a parquet split from the hub, with progress on dataset/{id} through the WebSocket hub', async () => {
    const res = await api('/api/datasets', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: { kind: 'hub', repo: 'loupe-test/texts' } }) });
    expect(res.status).toBe(202);
    const { dataset: queued } = createdDatasetSchema.parse(await res.json());
    subscribe(queued.id);
    const done = await until(queued.id, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', error: null, stats: { documents: 120 } });
    await waitFor('the completed event', () => events(queued.id).find((e) => e.status === 'completed'), 5000, 20);
    expect(readdirSync(path.join(dataDir, 'datasets', queued.id)).sort()).toEqual(['docs.bin', 'meta.json', 'stats.json', 'tokens.bin']);
    const asked = hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url.split('/').pop());
    expect([...new Set(asked)]).toEqual(['train-00000-of-00001.parquet']);
  });

  it('uploads a zip over HTTP and imports it; a bad archive is refused naming its entry and rule; an upload over the limit is a 413 that keeps nothing', async () => {
    const good = buildZip([
      { name: 'part-1.jsonl', data: demoText.split('\n').slice(0, 20).join('\n') },
      { name: 'notes.txt', data: 'one paragraph\n\nanother one\n' },
    ]);
    const bad = buildZip([{ name: 'ok.jsonl', data: '{"text": "x"}\n' }, { name: '../../etc/evil.txt', data: 'x' }]);
    const [a, b] = await Promise.all([upload('good.zip', good), upload('bad.zip', bad)]);
    const [ok, refused] = await Promise.all([until(a.dataset.id, ['completed', 'failed']), until(b.dataset.id, ['completed', 'failed'])]);
    expect(ok).toMatchObject({ status: 'completed', stats: { documents: 22 } });
    expect(refused.status).toBe('failed');
    expect(refused.error).toBe('bad.zip: zip entry "../../etc/evil.txt": ".." segment (rule: path_traversal)');
    expect(existsSync(path.join(dataDir, 'datasets', b.dataset.id))).toBe(false);

    const before = readdirSync(path.join(dataDir, 'datasets')).sort();
    const tooBig = await api('/api/datasets/upload?filename=huge.txt', { method: 'POST', body: new Uint8Array(UPLOAD_MAX_BYTES + 1), headers: { 'content-type': 'application/octet-stream' } });
    expect(tooBig.status).toBe(413);
    expect(errorBodySchema.parse(await tooBig.json()).error).toMatchObject({ code: 'payload_too_large', details: { limitBytes: UPLOAD_MAX_BYTES } });
    expect(readdirSync(path.join(dataDir, 'datasets')).sort()).toEqual(before);
  });

  it('cancels a running import: the dataset is cancelled and its folder removed', async () => {
    const { dataset: queued, job } = await upload('long.jsonl', demoText.repeat(4));
    const dir = path.join(dataDir, 'datasets', queued.id);
    await waitFor('tokens', () => events(queued.id).find((e) => e.status === 'running' && e.tokens > 0), 15_000, 20);
    const res = await api(`/api/jobs/${job.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    const t0 = Date.now();
    expect((await until(queued.id, ['cancelled', 'completed'])).status).toBe('cancelled');
    await waitFor('the folder to go', () => (existsSync(dir) ? undefined : true), 5000, 20);
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor('the cancelled event', () => events(queued.id).find((e) => e.status === 'cancelled'), 5000, 20);
    expect(events(queued.id).some((e) => e.status === 'completed')).toBe(false);
  });
});
