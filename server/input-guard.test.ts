/**
 * The edge of the HTTP API over a real PostgreSQL and pg-boss, in-process and
 * through a real Node HTTP server: text PostgreSQL cannot store, oversized and
 * malformed bodies, malformed Host headers and cookies, forged log lines, an
 * upload the client abandons, and error messages that would show DATA_DIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorBodySchema } from '../models/contracts/api.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { findUnsafeText, unsafeTextReason } from './input-guard.ts';
import { createGuardedServer } from './node-http.ts';
import { POLICY } from '../models/config.ts';
import { logger } from '../models/log.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { registerDemoModel } from '../workers/demo-model.ts';

const TOKEN = 'edge-test-token-0123456789';

/** One raw HTTP/1.1 exchange; returns status, content type and body. */
function raw(port: number, head: string, body = ''): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (c) => (data += c));
    socket.on('error', reject);
    socket.on('end', () => {
      const [headers = '', rest = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0), type: /content-type: ([^\r\n;]+)/i.exec(headers)?.[1] ?? '', body: rest });
    });
    socket.write(Buffer.from(`${head}\r\nConnection: close\r\n\r\n${body}`, 'latin1'));
  });
}

describe('the API edge', () => {
  let db: TestDatabase;
  let t: TestApp;
  let http: Server;
  let port: number;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-edge-'));
  let lines: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('loupe_edge');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    http = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0, createServer: createGuardedServer as typeof import('node:http').createServer }) as Server;
    await new Promise((r) => http.once('listening', r));
    port = (http.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => http.close(r));
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const capture = () => {
    lines = [];
    for (const m of ['log', 'error', 'info'] as const) vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')));
  };
  afterEach(() => {
    vi.restoreAllMocks();
    t.deps.token = undefined;
  });

  const problem = async (res: Response, status = 400) => {
    expect(res.status).toBe(status);
    const { error } = errorBodySchema.parse(await res.json());
    return { code: error.code, message: error.message, fields: ((error.details ?? []) as { field: string }[]).map((d) => d.field) };
  };
  const post = (p: string, body: string, method = 'POST') => t.request(p, { method, body });

  it('finds NUL and unpaired surrogates, and passes paired ones', () => {
    expect(unsafeTextReason('a\u0000b')).toMatch(/NUL/);
    expect(unsafeTextReason('a\ud800')).toMatch(/surrogate/);
    expect(unsafeTextReason('\udc00a')).toMatch(/surrogate/);
    expect(unsafeTextReason('emoji \ud83d\ude00 ok')).toBeUndefined();
    expect(findUnsafeText({ a: [1, { b: 'x\u0000' }] })).toEqual({ field: 'a.1.b', message: expect.stringMatching(/NUL/) });
    expect(findUnsafeText({ ['k\u0000']: 1 })?.field).toBe('k\u0000');
    expect(findUnsafeText(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)))?.message).toMatch(/nested deeper than 64/);
  });

  it('refuses NUL and lone surrogates in bodies, queries and paths with a 400 naming the field', async () => {
    const cases: [Promise<Response>, string][] = [
      [post('/api/models', JSON.stringify({ source: { kind: 'local', path: '/x' }, name: 'a\u0000b' })), 'name'],
      [post('/api/settings', '{"llm":{"url":"http://127.0.0.1:1/v1","model":"m\\ud800"}}', 'PUT'), 'llm.model'],
      [post('/api/extraction-templates', JSON.stringify({ name: '\u0000' })), 'name'],
      [t.request('/api/features?q=%00'), 'q'],
      [t.request('/api/jobs?kind=a%00'), 'kind'],
      [t.request('/api/features?q=a%00b&limit=5'), 'q'],
      [t.request('/api/models/%00'), 'path'],
    ];
    for (const [res, field] of cases) {
      const p = await problem(await res);
      expect(p.code).toBe('invalid_request');
      expect(p.fields).toEqual([field]);
    }
  });

  it('answers malformed JSON with details, and a body over the limit with 413 before reading it whole', async () => {
    // Nesting that would exhaust a recursive walk's stack is refused, not a 500.
    const deep = await problem(await post('/api/models', '['.repeat(50_000) + ']'.repeat(50_000)));
    expect(deep.message).toMatch(/nested deeper than 64 levels/);
    const bad = await problem(await post('/api/models', '{"source": {'));
    expect(bad.fields).toEqual(['(root)']);
    expect(bad.message).toMatch(/not valid JSON/);
    const big = JSON.stringify({ name: 'x'.repeat(POLICY.JSON_BODY_MAX_BYTES + 10) });
    expect((await problem(await post('/api/extraction-templates', big), 413)).code).toBe('payload_too_large');
    // Over real HTTP without a Content-Length (chunked): cut off at the limit.
    const chunked = await fetch(`http://127.0.0.1:${port}/api/extraction-templates`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(ctl) {
          for (let i = 0; i < 20; i++) ctl.enqueue(new TextEncoder().encode('x'.repeat(128 * 1024)));
          ctl.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('answers a malformed Host with a JSON 400 over HTTP, and a malformed token cookie with 401', async () => {
    for (const host of ['a b', 'x/y', 'user@127.0.0.1', '']) {
      const res = await raw(port, `GET /api/health HTTP/1.1\r\nHost: ${host}`);
      expect(res.status, host).toBe(400);
      expect(res.type).toBe('application/json');
      expect(JSON.parse(res.body).error.code).toBe('invalid_host');
    }
    t.deps.token = TOKEN;
    for (const cookie of ['loupe_token=%E0%A4%A', 'loupe_token=%', `loupe_token=${TOKEN}%`]) {
      const res = await raw(port, `GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}`);
      expect(res.status, cookie).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe('unauthorized');
    }
    const ok = await raw(port, `GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: loupe_token=${encodeURIComponent(TOKEN)}`);
    expect(ok.status).toBe(200);
  });

  it('keeps one log line per request whatever the path decodes to', async () => {
    capture();
    const res = await t.request('/api/nothing%0A2026-01-01T00:00:00.000Z%20INFO%20%20[http]%20GET%20/api/forged%20200');
    expect(res.status).toBe(404);
    const logged = lines.filter((l) => l.includes('/api/nothing'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).not.toContain('\n');
    expect(logged[0]).toContain('\\n2026-01-01');
  });

  it('logs an upload the client abandons as cancelled, not as a server error', async () => {
    capture();
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /api/datasets/upload?filename=a.txt&tokenizerModelId=${DEMO_MODEL_ID} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    socket.write('10000\r\n' + 'x'.repeat(4096));
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await vi.waitFor(() => expect(lines.some((l) => l.includes('POST /api/datasets/upload 400'))).toBe(true), { timeout: 5000 });
    expect(lines.filter((l) => / 500\b|unhandled error/.test(l))).toEqual([]);
  });

  it('never shows where DATA_DIR is in an error', async () => {
    const inside = path.join(dataDir, 'secret', 'model');
    const p = await problem(await post('/api/models', JSON.stringify({ source: { kind: 'local', path: inside } })));
    expect(p.message).toContain('DATA_DIR/secret/model');
    expect(p.message).not.toContain(dataDir);
  });
});
