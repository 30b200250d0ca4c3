/** The token is enforced when the server binds to a non-loopback address. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { freePort } from '../scripts/testing/ports.ts';
import { startProcess, waitForHttp, type RunningProcess } from '../scripts/testing/processes.ts';

const TOKEN = 'e2e-token-' + 'x'.repeat(24);

function upgrade(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
}

describe('non-loopback bind', () => {
  let db: TestDatabase;
  let dataDir: string;
  let server: RunningProcess;
  let port: number;
  let wsPort: number;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_auth');
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-auth-'));
    [port, wsPort] = [await freePort(), await freePort()];
  });
  afterAll(async () => {
    await server?.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start without LOUPE_TOKEN, naming the variable', async () => {
    const p = startProcess('server/main.ts', { DATABASE_URL: db.url, DATA_DIR: dataDir, HOST: '0.0.0.0', PORT: String(port), WS_PORT: String(wsPort), LOUPE_TOKEN: '', LOUPE_SAMPLER: '0' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/LOUPE_TOKEN: HOST=0\.0\.0\.0 is not a loopback address/);
  });

  it('requires the token for every HTTP request and for the WebSocket upgrade', async () => {
    server = startProcess('server/main.ts', { DATABASE_URL: db.url, DATA_DIR: dataDir, HOST: '0.0.0.0', PORT: String(port), WS_PORT: String(wsPort), LOUPE_TOKEN: TOKEN, LOUPE_SAMPLER: '0' });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/api/config`, server, 60_000, { authorization: `Bearer ${TOKEN}` });

    for (const p of ['/api/config', '/api/health', '/api/openapi.json', '/api/system/metrics', '/', '/system']) {
      const res = await fetch(base + p, { redirect: 'manual' });
      expect(res.status, p).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    const config = (await (await fetch(`${base}/api/config`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { authRequired: boolean };
    expect(config.authRequired).toBe(true);

    expect(await upgrade(`ws://127.0.0.1:${wsPort}/ws`)).toBe(401);
    expect(await upgrade(`ws://127.0.0.1:${wsPort}/ws?token=wrong`)).toBe(401);
    expect(await upgrade(`ws://127.0.0.1:${wsPort}/ws?token=${TOKEN}`)).toBe(101);
  });
});
