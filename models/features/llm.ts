/**
 * Feature labels from a language model behind any OpenAI-compatible chat
 * endpoint (OpenAI, vLLM, llama.cpp's server, Ollama's /v1, LM Studio…):
 * `POST {url}/chat/completions` with `Authorization: Bearer {key}` when a key
 * is set. The client bounds the requests in flight (shared by every caller),
 * times each one out, and retries 429s, 5xxs, timeouts and network errors
 * with exponential backoff (honouring `Retry-After`); any other answer is an
 * {@link LlmError} at once. Every error names the endpoint and says what went
 * wrong in its own words (the HTTP status, the endpoint's JSON error code):
 * it never quotes what the endpoint answered, which may be another service's
 * page or echo the key; that excerpt, the key cut out, is the error's
 * `detail`, for the server log only.
 *
 * The prompt shows a feature's top examples, the token where each peaks
 * marked `[[like this]]`, and asks for a label of a few words.
 */
import { STATUS_CODES } from 'node:http';
import type { Example } from './discover.ts';

/** Where to ask: the base URL (…/v1), the model name, and the key (null: no Authorization header). */
export interface LlmEndpoint {
  url: string;
  model: string;
  apiKey: string | null;
}

export interface LlmClientOptions {
  /** one request's time limit, ms */
  timeoutMs?: number;
  /** retries of a 429, 5xx, timeout or network error, after the first attempt */
  retries?: number;
  /** delay before the first retry, ms; doubled each retry (with jitter) */
  backoffMs?: number;
  /** longest wait between retries, ms (also caps Retry-After) */
  maxBackoffMs?: number;
  /** requests in flight at once, over every caller of this client */
  concurrency?: number;
}

/** Defaults of {@link LlmClientOptions}. */
export const LLM_DEFAULTS = { timeoutMs: 60_000, retries: 3, backoffMs: 1000, maxBackoffMs: 30_000, concurrency: 4 } as const;

/** A chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * A failed request to the endpoint: `status` is the HTTP status (undefined
 * for a timeout or network error), `code` the endpoint's JSON error code
 * (`error.code` or `error.type`, when it is a short identifier). The message
 * never quotes the endpoint's answer and may be shown to a user; `detail`, an
 * excerpt of that answer with the key cut out, is for the server log only.
 */
export class LlmError extends Error {
  readonly code: string | undefined;
  readonly detail: string | undefined;
  constructor(
    readonly endpoint: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown; code?: string; detail?: string },
  ) {
    super(`${endpoint}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LlmError';
    this.code = options?.code;
    this.detail = options?.detail;
  }
}

/** Characters of an endpoint's answer kept in {@link LlmError.detail}. */
const DETAIL_CHARS = 500;

/** A short identifier: what an endpoint's error code may look like to be repeated (`invalid_api_key`, `model_not_found`). */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The JSON error code of an error answer (`{error: {code|type}}`), when there is a readable one. */
function remoteCode(text: string): string | undefined {
  try {
    const j = JSON.parse(text) as { error?: { code?: unknown; type?: unknown } };
    const e = j?.error;
    if (!e || typeof e !== 'object') return undefined;
    const code = [e.code, e.type].find((c): c is string => typeof c === 'string' && ERROR_CODE.test(c));
    return code;
  } catch {
    return undefined;
  }
}

/** What an HTTP error status means for a chat endpoint, in a few words. */
function statusReason(status: number): string {
  if (status === 401 || status === 403) return 'the endpoint refused the key';
  if (status === 404) return 'no such endpoint or model';
  if (status === 429) return 'rate limited';
  if (status >= 500) return 'the endpoint failed';
  return 'the endpoint refused the request';
}

export interface LlmClient {
  /** `POST …/chat/completions` */
  readonly endpoint: string;
  readonly model: string;
  /** The assistant's answer to `messages`. */
  chat(messages: readonly ChatMessage[], opts?: { maxTokens?: number; signal?: AbortSignal }): Promise<string>;
}

/** A counting semaphore: at most `n` holders at once, the rest in arrival order. */
function semaphore(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    async acquire(signal?: AbortSignal): Promise<void> {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener('abort', stop);
          resolve();
        };
        const stop = () => {
          const i = waiting.indexOf(go);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal!.reason);
        };
        waiting.push(go);
        signal?.addEventListener('abort', stop, { once: true });
      });
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/** Seconds or an HTTP date of a Retry-After header, as ms; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/** The chat completions URL of a base URL (`http://host:port/v1` → `…/v1/chat/completions`). */
export function chatCompletionsUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/chat/completions`;
}

/** A client of one endpoint. */
export function createLlmClient(endpoint: LlmEndpoint, options: LlmClientOptions = {}): LlmClient {
  const o = { ...LLM_DEFAULTS, ...options };
  const url = chatCompletionsUrl(endpoint.url);
  const where = `POST ${url}`;
  /** An excerpt of an answer for the log, the key cut out (an endpoint may echo it). */
  const excerpt = (text: string): string => {
    const cut = text.slice(0, DETAIL_CHARS);
    return endpoint.apiKey ? cut.split(endpoint.apiKey).join('(key)') : cut;
  };
  const gate = semaphore(Math.max(1, o.concurrency));

  /** One attempt; throws LlmError with `retry` telling whether another attempt may succeed. */
  const attempt = async (body: string, signal: AbortSignal | undefined): Promise<{ text: string } | { error: LlmError; retry: boolean; waitMs?: number }> => {
    const timeout = AbortSignal.timeout(o.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}) },
        body,
        signal: both,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) return { error: new LlmError(where, `no answer within ${o.timeoutMs} ms`), retry: true };
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      return { error: new LlmError(where, `cannot reach the endpoint (${cause})`, undefined, { cause: err }), retry: true };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      return { error: new LlmError(where, timeout.aborted ? `no complete answer within ${o.timeoutMs} ms` : 'the answer was cut off', res.status, { cause: err }), retry: true };
    }
    if (!res.ok) {
      // The status and the code, never the body: a URL may point at another service, whose page must not come back to the caller.
      const code = remoteCode(text);
      const retry = res.status === 429 || res.status >= 500;
      const message = `${res.status} ${STATUS_CODES[res.status] ?? 'HTTP error'}${code ? ` (${code})` : ''}: ${statusReason(res.status)}`;
      return { error: new LlmError(where, message, res.status, { code, detail: excerpt(text) }), retry, waitMs: retryAfterMs(res.headers.get('retry-after')) };
    }
    let j: { choices?: { message?: { content?: unknown } }[] } | null;
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      return { error: new LlmError(where, 'not a chat completion answer (not JSON)', res.status, { detail: excerpt(text) }), retry: false };
    }
    const content = j?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') return { error: new LlmError(where, 'not a chat completion answer (no choices[0].message.content)', res.status, { detail: excerpt(text) }), retry: false };
    return { text: content };
  };

  return {
    endpoint: url,
    model: endpoint.model,
    async chat(messages, opts = {}) {
      const body = JSON.stringify({ model: endpoint.model, messages, max_tokens: opts.maxTokens ?? 40, temperature: 0 });
      await gate.acquire(opts.signal);
      try {
        for (let n = 0; ; n++) {
          const r = await attempt(body, opts.signal);
          if ('text' in r) return r.text;
          if (!r.retry || n >= o.retries) throw r.error;
          const backoff = o.backoffMs * 2 ** n * (0.75 + Math.random() / 2);
          await sleep(Math.min(o.maxBackoffMs, r.waitMs ?? backoff), opts.signal);
        }
      } finally {
        gate.release();
      }
    },
  };
}

/** Examples shown in a prompt, and tokens of context a side. */
const PROMPT_EXAMPLES = 10;

/** One example as prompt text: its tokens joined, the peak marked `[[…]]`, newlines shown as ⏎. */
export function exampleText(e: Pick<Example, 'tokens' | 'position' | 'start'>, show: (id: number) => string): string {
  const peak = e.position - e.start;
  return e.tokens.map((id, i) => (i === peak ? `[[${show(id)}]]` : show(id))).join('').replace(/\r?\n/g, '⏎');
}

/**
 * The chat messages asking for a label of one feature from its top examples
 * (`show` gives a token's display string, Tokenizer.tokenStrings of one id).
 */
export function labelPrompt(examples: readonly Pick<Example, 'tokens' | 'position' | 'start'>[], show: (id: number) => string): ChatMessage[] {
  const lines = examples.slice(0, PROMPT_EXAMPLES).map((e, i) => `${i + 1}. ${exampleText(e, show)}`);
  return [
    {
      role: 'system',
      content:
        'You name features of a sparse autoencoder trained on a language model. You see text excerpts where one feature fires; the token where it fires most in each excerpt is marked [[like this]]. Reply with a short label (at most 8 words) for what the feature detects, and nothing else.',
    },
    { role: 'user', content: `Excerpts:\n${lines.join('\n')}\n\nLabel:` },
  ];
}

/** A label from a model's answer: reasoning and quotes dropped, its first line, at most `max` characters; null when nothing is left. */
export function parseLabel(answer: string, max = 200): string | null {
  const text = answer.replace(/<think>[\s\S]*?<\/think>/gi, '').trim();
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0);
  if (!line) return null;
  let label = line.replace(/^\**(label|answer)\s*:\**\s*/i, '').replace(/\.$/, '').trim();
  // quotes (or markdown emphasis) around the whole label, not quotes inside it
  const QUOTE = /^["'“”‘’`*]$/;
  while (label.length >= 2 && QUOTE.test(label[0]!) && QUOTE.test(label.at(-1)!)) label = label.slice(1, -1).replace(/\.$/, '').trim();
  label = label.replace(/^\**(label|answer)\s*:\**\s*/i, '').trim();
  return label ? label.slice(0, max) : null;
}

/** Asks for one feature's label. */
export async function llmLabel(client: LlmClient, examples: readonly Pick<Example, 'tokens' | 'position' | 'start'>[], show: (id: number) => string, signal?: AbortSignal): Promise<string> {
  const answer = await client.chat(labelPrompt(examples, show), { maxTokens: 40, signal });
  const label = parseLabel(answer);
  if (!label) throw new LlmError(client.endpoint, 'the answer held no label', undefined, { detail: answer.slice(0, DETAIL_CHARS) });
  return label;
}

/**
 * Labels many features with bounded concurrency (the client's), calling
 * `onLabel` as each arrives. Stops at the first error that survived the
 * client's retries (the endpoint is down, the key is wrong): requests in
 * flight are abandoned and the error is returned with the count labelled,
 * not thrown, since a labelling failure is not a discovery failure.
 */
export async function labelFeatures<T extends { index: number; examples: readonly Pick<Example, 'tokens' | 'position' | 'start'>[] }>(
  client: LlmClient,
  items: readonly T[],
  show: (id: number) => string,
  opts: { signal?: AbortSignal; onLabel(item: T, label: string): void | Promise<void>; concurrency?: number },
): Promise<{ labelled: number; error: LlmError | null }> {
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let next = 0;
  let labelled = 0;
  let error: LlmError | null = null;
  const lane = async () => {
    while (!error && next < items.length) {
      const item = items[next++]!;
      try {
        const label = await llmLabel(client, item.examples, show, signal);
        if (error) return;
        await opts.onLabel(item, label);
        labelled++;
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (error) return;
        error = err instanceof LlmError ? err : new LlmError(client.endpoint, err instanceof Error ? err.message : String(err), undefined, { cause: err });
        stop.abort(error);
      }
    }
  };
  const lanes = Math.max(1, Math.min(opts.concurrency ?? LLM_DEFAULTS.concurrency, items.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  opts.signal?.throwIfAborted();
  return { labelled, error };
}
