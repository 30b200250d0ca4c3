/**
 * The web app's HTTP client: same-origin JSON requests whose responses are
 * parsed with the shared zod contracts, and one error type for everything
 * that can go wrong (the server's error body, an unreachable server, a
 * response that does not match its contract).
 */
import type { z } from 'zod';
import { errorBodySchema } from '../models/contracts/api.ts';
import { installPlainMessages, issueDetails } from '../models/contracts/messages.ts';

// The browser's checks of a form say what the API would, in the same plain words.
installPlainMessages();

/**
 * A failed API call. `code` and `message` are the server's own when it sent
 * its error body; otherwise `network` (status 0: no answer), `bad_response`
 * (a 2xx body that does not match its schema) or `http_<status>`.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status; 0 when no response arrived */
    readonly status: number,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/** Options of one request. */
export interface RequestOptions {
  /** aborts the request; the returned promise then rejects with the abort reason */
  signal?: AbortSignal;
}

async function readError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = errorBodySchema.safeParse(JSON.parse(text));
    if (body.success) {
      const { code, message, details, requestId } = body.data.error;
      return new ApiError(code, message, res.status, details, requestId ?? res.headers.get('x-request-id') ?? undefined);
    }
  } catch {
    // not JSON: a proxy's or the dev server's page; fall through
  }
  const reason = res.statusText || (res.status === 502 || res.status === 504 ? 'the server did not answer' : 'request failed');
  return new ApiError(`http_${res.status}`, `${res.status} ${reason}`, res.status);
}

async function fetchGet(path: string, opts: RequestOptions): Promise<Response> {
  try {
    return await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' }, signal: opts.signal ?? null });
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw new ApiError('network', `Cannot reach the server (${err instanceof Error ? err.message : String(err)})`, 0);
  }
}

async function parseBody<S extends z.ZodType>(res: Response, path: string, schema: S, opts: RequestOptions): Promise<z.output<S>> {
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw new ApiError('bad_response', `${path} answered with a body that is not JSON`, res.status);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
      .join('; ');
    throw new ApiError('bad_response', `${path} answered with an unexpected shape (${issues})`, res.status, parsed.error.issues);
  }
  return parsed.data;
}

/**
 * GETs `path` (same origin, cookies included) and parses the JSON body with
 * `schema`. Throws {@link ApiError} on any failure except an abort, which
 * rethrows the abort reason.
 * @example const config = await getJson('/api/config', configSchema);
 */
export async function getJson<S extends z.ZodType>(path: string, schema: S, opts: RequestOptions = {}): Promise<z.output<S>> {
  const res = await fetchGet(path, opts);
  if (!res.ok) throw await readError(res);
  return parseBody(res, path, schema, opts);
}

/**
 * GETs `path` as {@link getJson} does, for resources the server may still be
 * computing: a 202 Accepted resolves with `{ accepted }` (its body parsed
 * with `acceptedSchema`; ask again later), any other 2xx with `{ value }`.
 * @example const r = await getJsonOrAccepted(url, logitLensSchema, analysisPendingSchema); if ('accepted' in r) retryLater();
 */
export async function getJsonOrAccepted<S extends z.ZodType, A extends z.ZodType>(
  path: string,
  schema: S,
  acceptedSchema: A,
  opts: RequestOptions = {},
): Promise<{ value: z.output<S> } | { accepted: z.output<A> }> {
  const res = await fetchGet(path, opts);
  if (!res.ok) throw await readError(res);
  if (res.status === 202) return { accepted: await parseBody(res, path, acceptedSchema, opts) };
  return { value: await parseBody(res, path, schema, opts) };
}

/**
 * Sends a JSON request (`POST`, `PUT`, `DELETE`, ...) to `path` and parses
 * the answer with `schema`; a 204 (or `schema` omitted) resolves with
 * undefined. Errors as {@link getJson}: the server's error body becomes an
 * {@link ApiError} whose `details` name the bad fields.
 * @example const { model } = await sendJson('POST', '/api/models', { source }, createdModelSchema);
 */
export async function sendJson<S extends z.ZodType>(method: string, path: string, body: unknown, schema: S, opts?: RequestOptions): Promise<z.output<S>>;
export async function sendJson(method: string, path: string, body?: unknown, schema?: undefined, opts?: RequestOptions): Promise<undefined>;
export async function sendJson(method: string, path: string, body?: unknown, schema?: z.ZodType, opts: RequestOptions = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? null : JSON.stringify(body),
      signal: opts.signal ?? null,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw new ApiError('network', `Cannot reach the server (${err instanceof Error ? err.message : String(err)})`, 0);
  }
  if (!res.ok) throw await readError(res);
  if (res.status === 204 || !schema) return undefined;
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new ApiError('bad_response', `${method} ${path} answered with a body that is not JSON`, res.status);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ApiError('bad_response', `${method} ${path} answered with an unexpected shape`, res.status, parsed.error.issues);
  return parsed.data;
}

/**
 * Checks a request body in the browser with the contract the server checks
 * it with, before anything is sent: returns the parsed body, or throws an
 * {@link ApiError} (`invalid_input`, status 0: never sent) whose `details`
 * name each bad field as the server's 400 would, so that a form shows the
 * messages beside the same fields (ServerForm, FieldError).
 * @example const body = checkInput(createModelSchema, { source, dtype }); await sendJson('POST', '/api/models', body, …);
 */
export function checkInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = issueDetails(parsed.error);
  throw new ApiError('invalid_input', details.map((d) => `${d.field}: ${d.message}`).join('; '), 0, details);
}

/**
 * The per-field messages of a validation error (`details: [{field, message}]`),
 * keyed by field path (`source.repo`); empty for other errors.
 */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || !Array.isArray(err.details)) return {};
  const out: Record<string, string> = {};
  for (const d of err.details as unknown[]) {
    if (typeof d !== 'object' || d === null) continue;
    const { field, message } = d as { field?: unknown; message?: unknown };
    // two checks of one field may say the same thing (a URL that is neither a URL nor http(s)): once is enough
    if (typeof field === 'string' && typeof message === 'string' && !out[field]?.split('; ').includes(message)) out[field] = out[field] ? `${out[field]}; ${message}` : message;
  }
  return out;
}

/** A message for the user from any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
