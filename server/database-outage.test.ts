/**
 * The API while its database is away (the real test PostgreSQL behind a TCP
 * proxy taken down): database routes answer 503 `database_unavailable` with
 * Retry-After, not 500; /api/health answers 503 `unavailable` saying the
 * database is unreachable, with no SQL and no hint about installing pg-boss;
 * both answer 200 again once it is back, on the same pool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, healthSchema } from '../models/contracts/api.ts';
import { openDatabase, type Database } from '../db/client.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { startTcpProxy, type TcpProxy } from '../scripts/testing/tcp-proxy.ts';
import { createApp } from './app.ts';

describe('the API during a database outage', () => {
  let db: TestDatabase;
  let t: TestApp;
  let proxy: TcpProxy;
  let viaProxy: Database;
  let request: (p: string) => Promise<Response>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-api-outage-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_api_outage');
    t = await createTestApp(db, dataDir);
    proxy = await startTcpProxy(Number(new URL(db.url).port));
    viaProxy = openDatabase(proxy.via(db.url), { onError: () => undefined });
    const app = createApp({ ...t.deps, db: viaProxy.db });
    request = async (p) => app.request(p, { headers: { host: '127.0.0.1:8787' } });
  });
  afterAll(async () => {
    await t?.stop();
    await viaProxy?.close();
    await proxy?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while the database is down, and 200 once it is back', async () => {
    expect((await request('/api/models')).status).toBe(200);
    expect((await request('/api/health')).status).toBe(200);

    await proxy.down();
    for (const p of ['/api/models', '/api/trainings', '/api/datasets']) {
      const res = await request(p);
      expect(res.status, p).toBe(503);
      expect(res.headers.get('retry-after'), p).toMatch(/^\d+$/);
      const body = errorBodySchema.parse(await res.json());
      expect(body.error.code).toBe('database_unavailable');
      expect(body.error.message).not.toMatch(/select|ECONNREFUSED|127\.0\.0\.1/i);
    }
    const down = await request('/api/health');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    const text = await down.text();
    const health = healthSchema.parse(JSON.parse(text));
    expect(health).toMatchObject({ status: 'unavailable', database: { ok: false, latencyMs: null, error: 'unreachable: connection refused' }, queue: { ok: false, version: null }, workers: { active: 0 } });
    expect(text).not.toMatch(/SELECT|pgboss\.version|pg-boss is not installed|npm run worker/);

    await proxy.up();
    expect((await request('/api/models')).status).toBe(200);
    const up = await request('/api/health');
    expect(up.status).toBe(200);
    // pg-boss installed by the test app, no worker: degraded, and the database fine
    expect(healthSchema.parse(await up.json())).toMatchObject({ status: 'degraded', database: { ok: true }, queue: { ok: true } });
  });
});
