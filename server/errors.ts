/**
 * One error class and one error body for the whole API:
 * `{error: {code, message, details?, requestId?}}`.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import type { ErrorBody } from '../models/contracts/api.ts';
import { logger } from '../models/log.ts';

const log = logger('http');

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

/** Turns zod issues into `{field, message}` pairs naming the offending field. */
export function zodDetails(error: ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => ({ field: issue.path.join('.') || '(root)', message: issue.message }));
}

/** A 400 for input that failed validation, naming each bad field. */
export function validationError(error: ZodError, where: string): AppError {
  const details = zodDetails(error);
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new AppError('invalid_request', 400, `Invalid ${where}: ${summary}`, details);
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
  if (err instanceof AppError) {
    if (err.status >= 500) log.error(err.message, { requestId, code: err.code, cause: err.cause });
    return c.json(errorBody(err.code, err.message, err.details, requestId), err.status);
  }
  if (err instanceof HTTPException) {
    const code = err.status === 401 ? 'unauthorized' : err.status === 413 ? 'payload_too_large' : 'http_error';
    return c.json(errorBody(code, err.message || 'Request failed', undefined, requestId), err.status as ContentfulStatusCode);
  }
  log.error('unhandled error', { requestId, error: err.stack ?? String(err) });
  return c.json(errorBody('internal', `Internal error (request ${requestId ?? 'unknown'}); the server log has the details`, undefined, requestId), 500);
}
