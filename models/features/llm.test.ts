/**
 * The LLM label client against a real HTTP server speaking the OpenAI chat
 * API (scripts/testing/llm-server.ts): the key sent as a Bearer token, the
 * prompt marking each example's peak, retries of 429 (Retry-After) and 5xx,
 * no retry of a 401, timeouts, bounded concurrency, and a batch that stops
 * at an endpoint failure and reports it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { labelFor, startLlmServer, type TestLlmServer } from '../../scripts/testing/llm-server.ts';
import { createLlmClient, exampleText, labelFeatures, labelPrompt, LlmError, parseLabel } from './llm.ts';

const VOCAB = ['<|endoftext|>', ' the', ' hand', ' of', ' Moses', '\n', ' store', '_', 'const'];
const show = (id: number) => VOCAB[id] ?? '?';
/** " the hand of[[ Moses]]\n" with the peak at position 4 */
const example = (peak = 4) => ({ tokens: [1, 2, 3, peak, 5], start: 100, position: 103 });

describe('LLM labels over HTTP', () => {
  let server: TestLlmServer;
  beforeAll(async () => {
    server = await startLlmServer('sk-test');
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    server.failAll(null);
    server.delayMs = 0;
    server.hang = false;
  });
  const fast = { backoffMs: 10, maxBackoffMs: 50 };

  it('builds a prompt with the peak marked and parses labels', () => {
    expect(exampleText(example(), show)).toBe(' the hand of[[ Moses]]⏎');
    const [system, user] = labelPrompt([example(), example(6)], show);
    expect(system!.role).toBe('system');
    expect(user!.content).toContain('1.  the hand of[[ Moses]]⏎\n2.  the hand of[[ store]]⏎');
    expect(parseLabel('<think>hmm</think>\n\n"Label: Biblical names."\nmore')).toBe('Biblical names');
    expect(parseLabel('**Label:** “Moses” in Exodus.')).toBe('“Moses” in Exodus');
    expect(parseLabel('   ')).toBeNull();
    expect(parseLabel('x'.repeat(500))).toHaveLength(200);
  });

  it('sends the model, the messages and the key, and returns the answer', async () => {
    const client = createLlmClient({ url: `${server.url}/`, model: 'tiny-labeller', apiKey: 'sk-test' });
    expect(client.endpoint).toBe(`${server.url}/chat/completions`);
    const text = await client.chat(labelPrompt([example()], show));
    expect(text).toBe(labelFor(' Moses'));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ authorization: 'Bearer sk-test', model: 'tiny-labeller', peak: ' Moses' });
  });

  it('retries 429 (after Retry-After) and 500, but not a 401, and names the endpoint', async () => {
    const client = createLlmClient({ url: server.url, model: 'm', apiKey: 'sk-test' }, { ...fast, maxBackoffMs: 1000, retries: 3 });
    server.failNext(1, 429, 0.3);
    server.failNext(1, 500);
    const t0 = Date.now();
    expect(await client.chat([{ role: 'user', content: '[[ x]]' }])).toBe(labelFor(' x'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(server.requests).toHaveLength(3);

    server.requests.length = 0;
    const wrong = createLlmClient({ url: server.url, model: 'm', apiKey: 'sk-wrong' }, { ...fast, retries: 3 });
    const err = await wrong.chat([{ role: 'user', content: 'hi' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).status).toBe(401);
    expect((err as LlmError).message).toContain(`POST ${server.url}/chat/completions: 401`);
    // the status and the endpoint's error code, never its body (that goes to the log, as `detail`)
    expect((err as LlmError).message).toBe(`POST ${server.url}/chat/completions: 401 Unauthorized (invalid_request_error): the endpoint refused the key`);
    expect((err as LlmError).code).toBe('invalid_request_error');
    expect((err as LlmError).detail).toContain('Incorrect API key');
    expect(server.requests).toHaveLength(1);

    server.requests.length = 0;
    server.failAll(503);
    const down = (await client.chat([{ role: 'user', content: 'hi' }]).catch((e: unknown) => e)) as LlmError;
    expect(down.status).toBe(503);
    expect(server.requests).toHaveLength(4);
  });

  it('times out a slow answer, and reports an endpoint nobody listens on', async () => {
    server.hang = true;
    const client = createLlmClient({ url: server.url, model: 'm', apiKey: 'sk-test' }, { ...fast, timeoutMs: 200, retries: 1 });
    const t0 = Date.now();
    const err = (await client.chat([{ role: 'user', content: 'hi' }]).catch((e: unknown) => e)) as LlmError;
    expect(err.message).toMatch(/no answer within 200 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(server.requests).toHaveLength(2);
    server.hang = false;

    const nowhere = createLlmClient({ url: 'http://127.0.0.1:9/v1', model: 'm', apiKey: null }, { ...fast, retries: 0 });
    await expect(nowhere.chat([{ role: 'user', content: 'hi' }])).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions: cannot reach the endpoint/);
  });

  it('keeps at most `concurrency` requests in flight and labels every feature', async () => {
    server.delayMs = 60;
    const client = createLlmClient({ url: server.url, model: 'm', apiKey: 'sk-test' }, { ...fast, concurrency: 3 });
    const items = Array.from({ length: 12 }, (_, index) => ({ index, examples: [example(index % 2 ? 4 : 6)] }));
    const labels = new Map<number, string>();
    server.peakInFlight = 0;
    const r = await labelFeatures(client, items, show, { concurrency: 8, onLabel: (item, label) => void labels.set(item.index, label) });
    const most = server.peakInFlight;
    expect(r).toEqual({ labelled: 12, error: null });
    expect(labels.get(1)).toBe(labelFor(' Moses'));
    expect(labels.get(2)).toBe(labelFor(' store'));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2);
  });

  it('stops a batch at an endpoint failure and returns it with what was labelled', async () => {
    const client = createLlmClient({ url: server.url, model: 'm', apiKey: 'sk-test' }, { ...fast, retries: 1, concurrency: 1 });
    const items = Array.from({ length: 10 }, (_, index) => ({ index, examples: [example()] }));
    let n = 0;
    const r = await labelFeatures(client, items, show, {
      concurrency: 1,
      onLabel: () => {
        if (++n === 3) server.failAll(500);
      },
    });
    expect(r.labelled).toBe(3);
    expect(r.error?.status).toBe(500);
    // 3 answered, then one request and its retry
    expect(server.requests).toHaveLength(5);
  });
});
