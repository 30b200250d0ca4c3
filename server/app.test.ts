import os from 'node:os';
import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, healthSchema, systemMetricsSchema } from '../models/contracts/api.ts';
import { createEvents } from '../db/events.ts';
import { insertSystemPoints } from '../db/queries/system.ts';
import { upsertWorker } from '../db/queries/workers.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { createApp, type App } from './app.ts';
import { inspectModel } from '../models/inspect.ts';
import { createDatasetStorage } from './dataset-storage.ts';
import { createExtractionStorage } from './extraction-storage.ts';
import { createFeatureStorage } from './feature-storage.ts';
import { createInspectorStorage } from './inspector-storage.ts';
import { createSaeStorage } from './sae-storage.ts';

const TOKEN = 'test-token-0123456789abcdef';

describe('HTTP API', () => {
  let db: TestDatabase;
  let app: App;
  let secured: App;
  const local = { host: '127.0.0.1:8787' };

  beforeAll(async () => {
    db = await createTestDatabase('loupe_app');
    const deps = {
      db: db.db,
      // never started: these tests do not send jobs, and the health test needs pg-boss's schema absent
      boss: new PgBoss(db.url),
      events: createEvents(db.pool),
      storage: { checkLocalFolder: async () => undefined, removeModel: async () => undefined, inspect: inspectModel },
      datasets: createDatasetStorage(os.tmpdir(), { maxUploadBytes: 1024 }),
      extractions: createExtractionStorage(os.tmpdir()),
      saes: createSaeStorage(os.tmpdir()),
      features: createFeatureStorage(os.tmpdir()),
      inspector: createInspectorStorage(os.tmpdir()),
      version: '9.9.9',
      hostname: 'this-host',
      startedAt: Date.now(),
      publicConfig: (u: URL) => ({ version: '9.9.9', host: 'this-host', wsUrl: `ws://${u.hostname}:8788/ws`, authRequired: false, systemSampleMs: 2000 }),
    };
    app = createApp({ ...deps, token: undefined });
    secured = createApp({ ...deps, token: TOKEN });
    await insertSystemPoints(db.db, 'this-host', Date.now() - 5000, [{ metric: 'cpu.total', value: 12.5 }]);
  });
  afterAll(() => db.drop());

  it('serves its config and an OpenAPI document listing every route', async () => {
    const res = await app.request('http://127.0.0.1:8787/api/config', { headers: local });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: '9.9.9', host: 'this-host', wsUrl: 'ws://127.0.0.1:8788/ws', authRequired: false, systemSampleMs: 2000 });
    const doc = (await (await app.request('/api/openapi.json', { headers: local })).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/config',
      '/api/datasets',
      '/api/datasets/upload',
      '/api/datasets/{id}',
      '/api/datasets/{id}/samples',
      '/api/datasets/{id}/stats',
      '/api/discoveries',
      '/api/discoveries/{id}',
      '/api/extraction-templates',
      '/api/extraction-templates/{id}',
      '/api/extractions',
      '/api/extractions/{id}',
      '/api/extractions/{id}/cancel',
      '/api/features',
      '/api/features/{id}',
      '/api/features/{id}/ablation',
      '/api/features/{id}/correlations',
      '/api/features/{id}/label',
      '/api/features/{id}/logit-lens',
      '/api/health',
      '/api/jobs',
      '/api/jobs/{id}',
      '/api/jobs/{id}/cancel',
      '/api/models',
      '/api/models/{id}',
      '/api/models/{id}/architecture',
      '/api/sae-families',
      '/api/sae-families/{id}',
      '/api/saes',
      '/api/saes/import',
      '/api/saes/{id}',
      '/api/saes/{id}/encode',
      '/api/saes/{id}/files/{name}',
      '/api/saes/{id}/inspector',
      '/api/saes/{id}/inspector/files/{name}',
      '/api/saes/{id}/inspector/unembedding/{token}',
      '/api/settings',
      '/api/settings/llm/test',
      '/api/sweeps',
      '/api/sweeps/{id}',
      '/api/sweeps/{id}/cancel',
      '/api/sweeps/{id}/trials/{number}/template',
      '/api/sweeps/{id}/trials/{number}/train',
      '/api/system/metrics',
      '/api/training-templates',
      '/api/training-templates/{id}',
      '/api/trainings',
      '/api/trainings/compare',
      '/api/trainings/{id}',
      '/api/trainings/{id}/metrics',
      '/api/trainings/{id}/pause',
      '/api/trainings/{id}/resume',
      '/api/trainings/{id}/retry',
      '/api/trainings/{id}/stop',
    ]);
  });

  it('reports health: database up, queue missing until a worker installs it, live workers', async () => {
    let health = healthSchema.parse(await (await app.request('/api/health', { headers: local })).json());
    expect(health.database.ok).toBe(true);
    expect(health.queue.ok).toBe(false);
    expect(health.status).toBe('degraded');
    await upsertWorker(db.db, { id: 'w1', host: 'h', pid: 42, concurrency: 1, queues: [], startedAt: Date.now() - 60_000, lastSeen: Date.now() });
    await upsertWorker(db.db, { id: 'w-old', host: 'h', pid: 43, concurrency: 1, queues: [], startedAt: Date.now() - 600_000, lastSeen: Date.now() - 60_000 });
    health = healthSchema.parse(await (await app.request('/api/health', { headers: local })).json());
    expect(health.workers.active).toBe(1);
    expect(health.workers.list[0]).toMatchObject({ id: 'w1', device: null, adapters: null, adaptersNote: null });
    expect(health.adapters).toEqual([]);
  });

  it('lists each worker\'s device and WebGPU adapters, and the distinct adapters of them all', async () => {
    const swiftshader = { name: 'SwiftShader driver 5.0.0', vendor: 'google', architecture: 'swiftshader', fallback: true };
    const h200 = { name: 'NVIDIA H200', vendor: 'nvidia', architecture: 'hopper', fallback: false };
    const beat = { pid: 1, concurrency: 1, queues: [], startedAt: Date.now() - 1000, lastSeen: Date.now() };
    await upsertWorker(db.db, { ...beat, id: 'w-gpu', host: 'gpu-host', device: 'auto', adapters: { adapters: [h200, swiftshader], note: null } });
    await upsertWorker(db.db, { ...beat, id: 'w-sw', host: 'ci', device: 'webgpu', adapters: { adapters: [swiftshader], note: null } });
    await upsertWorker(db.db, { ...beat, id: 'w-cpu', host: 'laptop', device: 'cpu', adapters: { adapters: [], note: 'not probed: LOUPE_DEVICE=cpu' } });
    // a later heartbeat replaces what the probe said
    await upsertWorker(db.db, { ...beat, id: 'w-sw', host: 'ci', device: 'webgpu', adapters: { adapters: [swiftshader], note: null }, lastSeen: Date.now() + 1 });
    const health = healthSchema.parse(await (await app.request('/api/health', { headers: local })).json());
    const byId = new Map(health.workers.list.map((w) => [w.id, w]));
    expect(byId.get('w-gpu')).toMatchObject({ device: 'auto', adapters: [h200, swiftshader], adaptersNote: null });
    expect(byId.get('w-sw')).toMatchObject({ device: 'webgpu', adapters: [swiftshader] });
    expect(byId.get('w-cpu')).toMatchObject({ device: 'cpu', adapters: [], adaptersNote: 'not probed: LOUPE_DEVICE=cpu' });
    // each adapter once, however many workers found it
    expect(health.adapters).toHaveLength(2);
    expect(health.adapters).toEqual(expect.arrayContaining([h200, swiftshader]));
  });

  it('answers system history and names the bad field of a bad query', async () => {
    const ok = await app.request('/api/system/metrics?window=15m&points=20', { headers: local });
    expect(ok.status).toBe(200);
    const body = systemMetricsSchema.parse(await ok.json());
    expect(body.host).toBe('this-host');
    expect(body.series['cpu.total']!.last).toEqual([12.5]);

    const bad = await app.request('/api/system/metrics?window=2d&points=5', { headers: local });
    expect(bad.status).toBe(400);
    const err = errorBodySchema.parse(await bad.json());
    expect(err.error.code).toBe('invalid_request');
    const fields = (err.error.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['points', 'window']);
    expect(err.error.message).toMatch(/window/);

    const unknown = await app.request('/api/system/metrics?host=nope', { headers: local });
    expect(unknown.status).toBe(404);
    expect(errorBodySchema.parse(await unknown.json()).error.details).toEqual({ field: 'host', hosts: ['this-host'] });
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const res = await app.request('/api/nothing-here', { headers: local });
    expect(res.status).toBe(404);
    expect(errorBodySchema.parse(await res.json()).error.code).toBe('not_found');
  });

  it('refuses foreign Host and Origin headers in loopback mode', async () => {
    const rebound = await app.request('/api/config', { headers: { host: 'evil.example:8787' } });
    expect(rebound.status).toBe(403);
    expect(errorBodySchema.parse(await rebound.json()).error.code).toBe('forbidden_host');
    const csrf = await app.request('/api/config', { headers: { ...local, origin: 'https://evil.example' } });
    expect(csrf.status).toBe(403);
    const same = await app.request('/api/config', { headers: { ...local, origin: 'http://localhost:5173' } });
    expect(same.status).toBe(200);
  });

  it('with a token, requires it by header, query or cookie, and moves a ?token= page visit into a cookie', async () => {
    const headers = { host: 'loupe.lab:8787' };
    const none = await secured.request('/api/config', { headers });
    expect(none.status).toBe(401);
    expect(errorBodySchema.parse(await none.json()).error.code).toBe('unauthorized');
    expect((await secured.request('/api/config', { headers: { ...headers, authorization: 'Bearer wrong-token-xxxxxxxx' } })).status).toBe(401);
    expect((await secured.request('/api/config', { headers: { ...headers, authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await secured.request(`/api/config?token=${TOKEN}`, { headers })).status).toBe(200);
    expect((await secured.request('/api/config', { headers: { ...headers, cookie: `a=b; loupe_token=${TOKEN}` } })).status).toBe(200);
    const visit = await secured.request(`/system?window=1h&token=${TOKEN}`, { headers });
    expect(visit.status).toBe(302);
    expect(visit.headers.get('location')).toBe('/system?window=1h');
    expect(visit.headers.get('set-cookie')).toMatch(/^loupe_token=.*HttpOnly; SameSite=Strict/);
  });
});
