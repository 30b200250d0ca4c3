/**
 * A failed call to the LLM endpoint of Settings as the API answers it: a 502
 * that says the endpoint's status and a generic reason (LlmError's message,
 * which never quotes the endpoint's answer), with at most the endpoint's JSON
 * error code; the excerpt of its answer (the key cut out) goes to the server
 * log. A URL may point at any service, and its pages must not come back
 * through Loupe.
 */
import type { LlmError } from '../models/features/llm.ts';
import { logger } from '../models/log.ts';
import { AppError } from './errors.ts';

const log = logger('llm');

/** The 502 of `err`, its answer excerpt logged (`requestId` ties the two). */
export function llmFailure(err: LlmError, requestId?: string): AppError {
  log.warn('LLM endpoint failed', { requestId, endpoint: err.endpoint, status: err.status, code: err.code, answer: err.detail });
  return new AppError('llm_failed', 502, err.message, { endpoint: err.endpoint, status: err.status ?? null, code: err.code ?? null });
}
