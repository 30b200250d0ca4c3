/**
 * A real OpenAI-compatible chat endpoint for tests, on a loopback port:
 * `POST /v1/chat/completions` checks `Authorization: Bearer <key>` (401
 * otherwise), records every request, and answers a label naming the first
 * `[[marked]]` token of the prompt (`Feature: “ Moses”`). Tests steer it:
 * fail the next requests with a status (429 with Retry-After, 500…), fail
 * every request, answer slowly, or answer nothing at all (for timeouts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LlmRequest {
  authorization: string | undefined;
  model: string;
  messages: { role: string; content: string }[];
  /** the marked token of the prompt's first excerpt, when there is one */
  peak: string | null;
  at: number;
}

export interface TestLlmServer {
  /** base URL, `http://127.0.0.1:<port>/v1` */
  readonly url: string;
  readonly requests: LlmRequest[];
  /** requests answered with a label */
  readonly answered: number;
  /** most requests open at once since the start (or the last reset) */
  peakInFlight: number;
  /** the next `n` requests get `status` (and `retryAfter` seconds, for 429s) */
  failNext(n: number, status: number, retryAfter?: number): void;
  /** every request gets `status` until set back to null */
  failAll(status: number | null): void;
  /** ms before each answer */
  delayMs: number;
  /** never answer (until set false): the client's timeout fires */
  hang: boolean;
  close(): Promise<void>;
}

/** The label the server gives a prompt whose first marked token is `peak`. */
export function labelFor(peak: string | null): string {
  return peak === null ? 'Feature: nothing marked' : `Feature: “${peak}”`;
}

/** Starts the server; `key` null accepts any request (no key configured). */
export async function startLlmServer(key: string | null = 'test-key'): Promise<TestLlmServer> {
  const requests: LlmRequest[] = [];
  let failures: { status: number; retryAfter?: number }[] = [];
  let always: number | null = null;
  let answered = 0;
  const hanging = new Set<http.ServerResponse>();
  const state = { delayMs: 0, hang: false, inFlight: 0, peak: 0 };

  const server = http.createServer((req, res) => {
    state.peak = Math.max(state.peak, ++state.inFlight);
    res.on('close', () => state.inFlight--);
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return json(404, { error: { message: `no route ${req.method} ${req.url}` } });
      let parsed: { model?: string; messages?: { role: string; content: string }[] };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return json(400, { error: { message: 'body is not JSON' } });
      }
      const user = parsed.messages?.find((m) => m.role === 'user')?.content ?? '';
      const peak = /\[\[([\s\S]*?)\]\]/.exec(user)?.[1] ?? null;
      requests.push({ authorization: req.headers.authorization, model: parsed.model ?? '', messages: parsed.messages ?? [], peak, at: Date.now() });
      if (key !== null && req.headers.authorization !== `Bearer ${key}`) return json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
      if (!parsed.model || !Array.isArray(parsed.messages)) return json(400, { error: { message: 'model and messages are required' } });
      const fail = failures.shift();
      if (fail) return json(fail.status, { error: { message: `test failure ${fail.status}` } }, fail.retryAfter !== undefined ? { 'retry-after': String(fail.retryAfter) } : {});
      if (always !== null) return json(always, { error: { message: `test failure ${always}` } });
      if (state.hang) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      setTimeout(() => {
        answered++;
        json(200, {
          id: `chatcmpl-${requests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: parsed.model,
          choices: [{ index: 0, message: { role: 'assistant', content: labelFor(peak) }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        });
      }, state.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get answered() {
      return answered;
    },
    get peakInFlight() {
      return state.peak;
    },
    set peakInFlight(v) {
      state.peak = v;
    },
    failNext(n, status, retryAfter) {
      for (let i = 0; i < n; i++) failures.push({ status, retryAfter });
    },
    failAll(status) {
      always = status;
      if (status === null) failures = [];
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v) {
      state.delayMs = v;
    },
    get hang() {
      return state.hang;
    },
    set hang(v) {
      state.hang = v;
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
