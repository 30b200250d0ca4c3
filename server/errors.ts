/**
 * One error class and one error body for the whole API:
 * `{error: {code, message, details?, requestId?}}`.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import type { ErrorBody } from '../models/contracts/api.ts';
import { installPlainMessages, issueDetails, type FieldIssue } from '../models/contracts/messages.ts';
import { errorForLog, logger } from '../models/log.ts';
import { isDatabaseUnavailable, unavailableReason } from '../db/outage.ts';

const log = logger('http');

// The API's 400s say what the browser's own checks say, in the same words.
installPlainMessages();

/** An error a client can act on. `code` is stable and machine-readable. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: ContentfulStatusCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

/**
 * Turns zod issues into `{field, message}` pairs naming the offending field
 * (an unknown field of a strict schema is named itself), as the browser
 * names them when it checks a form with the same contract.
 */
export function zodDetails(error: ZodError): FieldIssue[] {
  return issueDetails(error);
}

/** A 400 for input that failed validation, naming each bad field. */
export function validationError(error: ZodError, where: string): AppError {
  const details = zodDetails(error);
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new AppError('invalid_request', 400, `Invalid ${where}: ${summary}`, details);
}

/**
 * `text` with every occurrence of `dataDir` (an absolute path) written as
 * `DATA_DIR`, so an error message tells which file without telling where
 * the data lives on the host.
 */
export function redactDataDir(text: string, dataDir: string | undefined): string {
  if (!dataDir || dataDir === '/' || !text.includes(dataDir)) return text;
  return text.split(dataDir).join('DATA_DIR');
}

function redactDetails(details: unknown, dataDir: string | undefined): unknown {
  if (!dataDir || details === undefined) return details;
  return JSON.parse(JSON.stringify(details), (_k, v: unknown) => (typeof v === 'string' ? redactDataDir(v, dataDir) : v));
}

/** The body every 4xx/5xx carries. */
export function errorBody(code: string, message: string, details?: unknown, requestId?: string): ErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }), ...(requestId ? { requestId } : {}) } };
}

/**
 * Hono `onError`: AppErrors are answered as they are; anything else is logged
 * with its stack and answered as a 500 whose message hides the internals
 * behind the request id.
 */
export function onError(err: Error, c: Context): Response {
  const requestId = c.get('requestId' as never) as string | undefined;
  // PostgreSQL down or restarting: a 503 the client can retry, not a 500 (an AppError that is a 4xx stays one)
  if (!(err instanceof AppError && err.status < 500) && isDatabaseUnavailable(err)) {
    log.warn('database unavailable', { requestId, reason: unavailableReason(err) });
    c.header('Retry-After', '5');
    return c.json(errorBody('database_unavailable', 'The database cannot be reached right now; try again in a few seconds', undefined, requestId), 503);
  }
  if (err instanceof AppError) {
    if (err.status >= 500) log.error(err.message, { requestId, code: err.code, cause: err.cause });
    const dataDir = (c.get('deps' as never) as { dataDir?: string } | undefined)?.dataDir;
    return c.json(errorBody(err.code, redactDataDir(err.message, dataDir), redactDetails(err.details, dataDir), requestId), err.status);
  }
  if (err instanceof HTTPException) {
    const code = err.status === 401 ? 'unauthorized' : err.status === 413 ? 'payload_too_large' : err.status === 400 ? 'invalid_request' : 'http_error';
    const message = err.message || 'Request failed';
    // Hono's own 400s (a body its validator cannot read, a wrong Content-Type) are about the request as a whole.
    const details = err.status === 400 ? [{ field: /content-type/i.test(message) ? 'content-type' : '(root)', message }] : undefined;
    return c.json(errorBody(code, message, details, requestId), err.status as ContentfulStatusCode);
  }
  // errorForLog: a failed query's parameters (an LLM key being saved…) stay out of the log
  log.error('unhandled error', { requestId, error: errorForLog(err, { stack: true }) });
  return c.json(errorBody('internal', `Internal error (request ${requestId ?? 'unknown'}); the server log has the details`, undefined, requestId), 500);
}
