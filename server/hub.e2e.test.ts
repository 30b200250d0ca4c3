/**
 * End to end through real processes: a worker process publishes, PostgreSQL
 * NOTIFY carries it, the server process LISTENs and its uWebSockets.js hub
 * delivers to a WebSocket client that subscribed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { healthSchema } from '../models/contracts/api.ts';
import type { ServerMessage } from '../models/contracts/topics.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { freePort } from '../scripts/testing/ports.ts';
import { startProcess, waitFor, waitForHttp, type RunningProcess } from '../scripts/testing/processes.ts';

class Client {
  readonly messages: ServerMessage[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => this.messages.push(JSON.parse(raw.toString()) as ServerMessage));
  }
  static open(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new Client(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }
  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  next(pred: (m: ServerMessage) => boolean, what: string, timeoutMs = 30_000): Promise<ServerMessage> {
    return waitFor(what, () => this.messages.find(pred), timeoutMs, 50);
  }
}

describe('events from a worker process reach WebSocket clients through the server', () => {
  let db: TestDatabase;
  let server: RunningProcess;
  let dataDir: string;
  let http: string;
  let wsUrl: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_hub');
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-hub-'));
    const [port, wsPort] = [await freePort(), await freePort()];
    env = { DATABASE_URL: db.url, DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), WS_PORT: String(wsPort), LOUPE_SAMPLER: '0' };
    server = startProcess('server/main.ts', env);
    http = `http://127.0.0.1:${port}`;
    const config = (await (await waitForHttp(`${http}/api/config`, server)).json()) as { wsUrl: string };
    wsUrl = config.wsUrl;
    expect(wsUrl).toBe(`ws://127.0.0.1:${wsPort}/ws`);
  });
  afterAll(async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers a worker heartbeat to a subscribed client, and health counts the worker', async () => {
    const client = await Client.open(wsUrl);
    client.send({ op: 'subscribe', topic: 'system/workers' });
    const worker = startProcess('workers/main.ts', env);
    try {
      const msg = await client.next((m) => m.topic === 'system/workers', 'the worker heartbeat');
      const data = msg.data as { pid: number; queues: string[] };
      expect(data.pid).toBe(worker.child.pid);
      expect(data.queues).toContain('system.maintenance');
      const health = healthSchema.parse(await (await fetch(`${http}/api/health`)).json());
      expect(health).toMatchObject({ status: 'ok', database: { ok: true }, queue: { ok: true }, workers: { active: 1 } });
    } finally {
      expect(await worker.stop('SIGTERM')).toBe(0);
      client.ws.close();
    }
    // A worker that stops cleanly leaves the list at once.
    const after = healthSchema.parse(await (await fetch(`${http}/api/health`)).json());
    expect(after.workers.active).toBe(0);
  });

  it('delivers a payload larger than NOTIFY allows, only to subscribers of its topic', async () => {
    const subscribed = await Client.open(wsUrl);
    const other = await Client.open(wsUrl);
    subscribed.send({ op: 'subscribe', topic: 'training/00000000-0000-4000-8000-000000000042' });
    other.send({ op: 'subscribe', topic: 'training/00000000-0000-4000-8000-000000000043' });
    const payload = { step: 7, histogram: Array.from({ length: 5000 }, (_, i) => Math.sin(i)) };
    const file = path.join(dataDir, 'payload.json');
    writeFileSync(file, JSON.stringify(payload));
    // Subscriptions are processed in order on each socket; give the server a moment before publishing.
    await new Promise((r) => setTimeout(r, 200));
    const publisher = startProcess('scripts/testing/publish-event.ts', { DATABASE_URL: db.url }, ['training/00000000-0000-4000-8000-000000000042', file]);
    expect(await publisher.exited).toBe(0);
    const msg = await subscribed.next((m) => m.topic === 'training/00000000-0000-4000-8000-000000000042', 'the large event');
    expect(msg.data).toEqual(payload);
    await new Promise((r) => setTimeout(r, 300));
    expect(other.messages.filter((m) => m.topic.startsWith('training/'))).toEqual([]);
    subscribed.ws.close();
    other.ws.close();
  });

  it('answers bad client messages with an error on $hub and keeps the socket open', async () => {
    const client = await Client.open(wsUrl);
    client.send('not json');
    client.send({ op: 'subscribe', topic: 'no/such/topic' });
    client.send({ op: 'dance', topic: 'system/cpu' });
    client.send({ op: 'subscribe', topic: 'training/not-a-uuid' });
    const errors = await waitFor('four errors', () => {
      const e = client.messages.filter((m) => m.topic === '$hub' && (m.data as { type: string }).type === 'error');
      return e.length >= 4 ? e : undefined;
    });
    const texts = errors.map((e) => (e.data as { message: string }).message);
    expect(texts[0]).toMatch(/not valid JSON/);
    expect(texts[1]).toMatch(/unknown topic "no\/such\/topic"/);
    expect(texts[2]).toMatch(/op/);
    expect(texts[3]).toMatch(/unknown topic "training\/not-a-uuid"/);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.ws.close();
  });
});
