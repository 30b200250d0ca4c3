/**
 * The checks every request passes before its route: a size limit on bodies,
 * JSON that parses (a 400 with `details` when it does not), and text that
 * PostgreSQL can store. PostgreSQL refuses NUL (U+0000) in `text` and
 * `jsonb`, and a lone UTF-16 surrogate cannot be encoded as UTF-8 at all, so
 * either would otherwise surface as a 500 from deep inside a query. One
 * sanitiser at the edge answers them with a 400 naming the field. Written
 * against Web-standard APIs only.
 */
import type { MiddlewareHandler } from 'hono';
import { POLICY } from '../models/config.ts';
import { AppError } from './errors.ts';

/** Paths whose body is a streamed file, limited by its own setting (UPLOAD_MAX_BYTES), not by {@link POLICY.JSON_BODY_MAX_BYTES}. */
const STREAMED_BODY_PATHS = new Set(['/api/datasets/upload']);

/** Why a string cannot be stored, or undefined when it can. */
export function unsafeTextReason(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return `contains a NUL character (\\u0000) at index ${i}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return `contains an unpaired UTF-16 surrogate at index ${i}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return `contains an unpaired UTF-16 surrogate at index ${i}`;
    }
  }
  return undefined;
}

/** Deepest nesting of arrays and objects accepted in a JSON body; no request of the API needs more than a few levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * The first string (or object key) in a JSON value that PostgreSQL cannot
 * store, as `{field, message}` with the field as a dotted path (`llm.url`,
 * `items.2.name`), or undefined when there is none. A value nested deeper
 * than {@link MAX_JSON_DEPTH} is refused too (walked with an explicit stack,
 * so no body can exhaust the call stack).
 */
export function findUnsafeText(value: unknown): { field: string; message: string } | undefined {
  const at = (p: readonly (string | number)[]) => p.join('.') || '(root)';
  const stack: { value: unknown; path: readonly (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const reason = unsafeTextReason(v);
      if (reason) return { field: at(path), message: reason };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) return { field: at(path.slice(0, 8)), message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
    // pushed in reverse, so the first offending field in document order is the one named
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (typeof key === 'string') {
        const keyReason = unsafeTextReason(key);
        if (keyReason) return { field: at([...path, key]), message: `its name ${keyReason}` };
      }
      stack.push({ value: child, path: [...path, key] });
    }
  }
  return undefined;
}

function refuse(field: string, message: string, where: string): AppError {
  return new AppError('invalid_request', 400, `Invalid ${where}: ${field}: ${message}`, [{ field, message }]);
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\b/i;

/**
 * Middleware: refuses bodies over {@link POLICY.JSON_BODY_MAX_BYTES} (413),
 * malformed JSON (400, `details` on `(root)`), and NUL or lone surrogates in
 * the path, the query or a JSON body (400 naming the field).
 */
export const inputGuard: MiddlewareHandler = async (c, next) => {
  const url = new URL(c.req.url);
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw refuse('path', 'is not valid percent-encoded UTF-8', 'request path');
  }
  const pathReason = unsafeTextReason(path);
  if (pathReason) throw refuse('path', pathReason, 'request path');
  for (const [name, value] of url.searchParams) {
    const nameReason = unsafeTextReason(name);
    if (nameReason) throw refuse(name, `its name ${nameReason}`, 'query parameters');
    const reason = unsafeTextReason(value);
    if (reason) throw refuse(name, reason, 'query parameters');
  }

  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || !c.req.raw.body || STREAMED_BODY_PATHS.has(url.pathname)) return next();

  const limit = POLICY.JSON_BODY_MAX_BYTES;
  const tooLarge = () => new AppError('payload_too_large', 413, `The request body is larger than ${limit} bytes`, [{ field: '(root)', message: `larger than ${limit} bytes` }]);
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge();
  // Read with a running count, so a body without a length (chunked) is cut off at the limit too.
  const reader = c.req.raw.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  // The route reads the body again from this copy.
  c.req.raw = new Request(c.req.raw, { body: bytes });

  if (size === 0 || !JSON_TYPE.test(c.req.header('content-type') ?? '')) return next();
  const text = new TextDecoder().decode(bytes);
  if (!text.trim()) return next();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw refuse('(root)', `not valid JSON (${err instanceof Error ? err.message : String(err)})`, 'request body');
  }
  const unsafe = findUnsafeText(value);
  if (unsafe) throw refuse(unsafe.field, unsafe.message, 'request body');
  return next();
};
