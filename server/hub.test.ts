/**
 * The WebSocket hub in this process: malformed upgrades are answered 400/401
 * and never end the process (an exception inside a uWS callback would), and
 * a well-formed upgrade still works after them.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHub, type Hub } from './hub.ts';

const TOKEN = 'a-test-token-of-enough-length';

/** Sends a raw HTTP upgrade request and returns the status line and body of the answer. */
function rawUpgrade(port: number, headers: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.setTimeout(5000, () => socket.destroy());
    const lines = ['GET /ws HTTP/1.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...headers];
    socket.write(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
    // uWS keeps the connection open after answering: half-close ours so it ends.
    setTimeout(() => socket.end(), 300);
  });
}

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('WebSocket hub: malformed upgrades', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startHub({ host: '127.0.0.1', port: 0, token: TOKEN });
  });
  afterAll(() => hub.close());

  it('answers a bad Host with 400 and a malformed token cookie with 401, and keeps serving', async () => {
    const cases: { headers: string[]; status: number; code: string }[] = [
      { headers: ['Host: a b'], status: 400, code: 'invalid_host' },
      { headers: ['Host: a b', `Cookie: loupe_token=${TOKEN}`], status: 400, code: 'invalid_host' },
      { headers: ['Host: 127.0.0.1:1/x?'], status: 400, code: 'invalid_host' },
      { headers: ['Host: user@127.0.0.1'], status: 400, code: 'invalid_host' },
      // no Host at all: uWS's own HTTP/1.1 parser closes the connection before any callback
      { headers: [], status: 0, code: '' },
      { headers: ['Host: 127.0.0.1', 'Cookie: loupe_token=%E0%A4%A'], status: 401, code: 'unauthorized' },
      { headers: ['Host: 127.0.0.1', 'Cookie: loupe_token=%'], status: 401, code: 'unauthorized' },
      { headers: ['Host: 127.0.0.1', 'Authorization: Bearer \u00ff\u00fe'], status: 401, code: 'unauthorized' },
    ];
    // Every case twice: four bad upgrades in a row were enough to stop Loupe before.
    for (const c of [...cases, ...cases]) {
      const answer = await rawUpgrade(hub.port, c.headers);
      expect(answer.status, c.headers.join(' | ')).toBe(c.status);
      if (c.status) expect(JSON.parse(answer.body).error.code).toBe(c.code);
    }
    const ws = await open(`ws://127.0.0.1:${hub.port}/ws?token=${TOKEN}`);
    const first = await new Promise<string>((resolve) => {
      ws.once('message', (m) => resolve(m.toString()));
      ws.send('not json');
    });
    expect(JSON.parse(first).data.type).toBe('error');
    ws.close();
  });

  it('takes the token from a well-formed cookie', async () => {
    const ws = await open(`ws://127.0.0.1:${hub.port}/ws`, { cookie: `other=1; loupe_token=${encodeURIComponent(TOKEN)}` });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});
