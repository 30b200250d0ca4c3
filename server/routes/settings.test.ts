/**
 * The settings API keeps the LLM key to the endpoint it was saved for, in
 * process with a real PostgreSQL and local OpenAI-compatible servers that
 * record the Authorization header they got: a test or a save naming another
 * URL without its own key is refused (400 naming `llm.apiKey`) and sends
 * nothing; a 502 says the endpoint's status and error code, never its body
 * (which the server log keeps, the key cut out); a settings write the
 * database refuses logs no key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { settingsSchema } from '../../models/contracts/features.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { startLlmServer, type TestLlmServer } from '../../scripts/testing/llm-server.ts';

const KEY = 'sk-stored-5d1f0c2a9e';

/** An endpoint that refuses every request with a 401 whose JSON body echoes the Authorization header, and a page. */
async function startEchoServer(): Promise<{ url: string; seen: (string | undefined)[]; close(): Promise<void> }> {
  const seen: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/page/')) {
        res.writeHead(403, { 'content-type': 'text/html' });
        return res.end('<html>INTERNAL ADMIN PAGE: db password hunter2</html>');
      }
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `key not valid here: ${req.headers.authorization ?? 'none'}; internal detail 42`, code: 'invalid_api_key' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('settings API: the LLM key', () => {
  let db: TestDatabase;
  let t: TestApp;
  let stored: TestLlmServer;
  let other: TestLlmServer;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-settings-'));
  let lines: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('loupe_settings');
    t = await createTestApp(db, path.join(tmp, 'data'));
    [stored, other, echo] = await Promise.all([startLlmServer(KEY), startLlmServer(null), startEchoServer()]);
  });
  afterAll(async () => {
    await Promise.all([stored?.close(), other?.close(), echo?.close()]);
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const capture = () => {
    lines = [];
    const keep = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    vi.spyOn(console, 'error').mockImplementation(keep);
    vi.spyOn(console, 'log').mockImplementation(keep);
  };
  afterEach(() => vi.restoreAllMocks());

  const put = (llm: unknown) => t.request('/api/settings', { method: 'PUT', body: JSON.stringify({ llm }) });
  const test = (llm?: unknown) => t.request('/api/settings/llm/test', { method: 'POST', ...(llm === undefined ? {} : { body: JSON.stringify({ llm }) }) });
  const refused = async (res: Response, field: string) => {
    const body = errorBodySchema.parse(await res.json());
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error.details).toEqual([{ field, message: expect.any(String) }]);
    return body.error;
  };

  it('never sends the stored key to a URL the request names', async () => {
    expect((await put({ url: stored.url, model: 'labeller', apiKey: KEY })).status).toBe(200);
    // the stored endpoint (a trailing slash is the same endpoint) gets the stored key
    expect((await test()).status).toBe(200);
    expect((await test({ url: `${stored.url}/`, model: 'labeller-2' })).status).toBe(200);
    expect(stored.requests.map((r) => r.authorization)).toEqual([`Bearer ${KEY}`, `Bearer ${KEY}`]);

    // another URL without a key: refused before any request
    const error = await refused(await test({ url: other.url, model: 'labeller' }), 'llm.apiKey');
    expect(error.message).toMatch(/give the key for a new endpoint again/);
    expect(error.message).not.toContain(KEY);
    expect(other.requests).toHaveLength(0);
    // with its own key, or none, it is tried with that
    expect((await test({ url: other.url, model: 'labeller', apiKey: null })).status).toBe(200);
    expect((await test({ url: other.url, model: 'labeller', apiKey: 'sk-other' })).status).toBe(200);
    expect(other.requests.map((r) => r.authorization)).toEqual([undefined, 'Bearer sk-other']);
    // same host, another path or port: another endpoint
    await refused(await test({ url: stored.url.replace('/v1', '/v2'), model: 'labeller' }), 'llm.apiKey');
    expect(stored.requests).toHaveLength(2);
  });

  it('refuses to save a new URL without its key, and keeps the key for the same endpoint', async () => {
    expect((await put({ url: stored.url, model: 'labeller', apiKey: KEY })).status).toBe(200);
    const error = await refused(await put({ url: other.url, model: 'labeller' }), 'llm.apiKey');
    expect(error.message).toMatch(/stored key belongs to http:\/\/127\.0\.0\.1:\d+\/v1: give the key for a new endpoint again \(or null for none\)/);
    // nothing changed
    expect(settingsSchema.parse(await (await t.request('/api/settings')).json())).toEqual({ llm: { url: stored.url, model: 'labeller', apiKeySet: true } });
    // the same endpoint keeps it; a new one saved with null has none, and the labels go there without a key
    expect(settingsSchema.parse(await (await put({ url: stored.url, model: 'labeller-3' })).json()).llm?.apiKeySet).toBe(true);
    expect(settingsSchema.parse(await (await put({ url: other.url, model: 'labeller', apiKey: null })).json()).llm).toEqual({ url: other.url, model: 'labeller', apiKeySet: false });
    other.requests.length = 0;
    expect((await test()).status).toBe(200);
    expect(other.requests.map((r) => r.authorization)).toEqual([undefined]);
    // a key in the URL itself would be shown back by GET: refused
    await refused(await put({ url: other.url.replace('http://', 'http://user:sk-in-url@'), model: 'labeller', apiKey: null }), 'llm.url');
  });

  it('answers a failing endpoint with its status and code, never its body; the log keeps the body without the key', async () => {
    capture();
    const res = await test({ url: echo.url, model: 'labeller', apiKey: KEY });
    const text = await res.text();
    expect(res.status, text).toBe(502);
    expect(errorBodySchema.parse(JSON.parse(text)).error).toMatchObject({
      code: 'llm_failed',
      message: `POST ${echo.url}/chat/completions: 401 Unauthorized (invalid_api_key): the endpoint refused the key`,
      details: { status: 401, code: 'invalid_api_key' },
    });
    expect(text).not.toMatch(/key not valid here|internal detail|sk-stored/);
    expect(echo.seen.at(-1)).toBe(`Bearer ${KEY}`);
    // the excerpt is in the server log, the key cut out of it
    expect(lines.join('\n')).toContain('internal detail 42');
    expect(lines.join('\n')).not.toContain(KEY);

    // a page of another service: its status only
    const page = await test({ url: echo.url.replace('/v1', '/page/v1'), model: 'labeller', apiKey: null });
    const pageText = await page.text();
    expect(page.status).toBe(502);
    expect(errorBodySchema.parse(JSON.parse(pageText)).error.message).toMatch(/: 403 Forbidden: the endpoint refused the key$/);
    expect(pageText).not.toMatch(/ADMIN|hunter2|html/i);
  });

  it('logs no key when the database refuses a settings write', async () => {
    // A write PostgreSQL refuses (a trigger the test adds): drizzle's error carries the SQL parameters, the key among them.
    await db.pool.query(`
      CREATE FUNCTION test_refuse_settings() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'settings refused by the test' USING ERRCODE = '54000'; END $$`);
    await db.pool.query(`CREATE TRIGGER test_refuse_settings BEFORE INSERT OR UPDATE ON settings FOR EACH ROW EXECUTE FUNCTION test_refuse_settings()`);
    try {
      capture();
      const res = await put({ url: other.url, model: 'labeller', apiKey: 'sk-never-logged-77' });
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(errorBodySchema.parse(JSON.parse(text)).error.code).toBe('internal');
      expect(text).not.toMatch(/sk-never-logged|Failed query|settings refused/);
      const log = lines.join('\n');
      // the failure is logged, with PostgreSQL's reason, and without the parameters
      expect(log).toContain('settings refused by the test (SQLSTATE 54000)');
      expect(log).toContain('params: (not logged)');
      expect(log).not.toContain('sk-never-logged');
    } finally {
      await db.pool.query(`DROP TRIGGER test_refuse_settings ON settings; DROP FUNCTION test_refuse_settings()`);
    }
  });
});
