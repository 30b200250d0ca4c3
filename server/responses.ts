/**
 * What every route file writes the same way: the OpenAPI entries of its
 * answers (`json`, `error`) and of its JSON bodies (`jsonBody`) and the AppErrors it throws most (`fieldError`,
 * `notFound`), so the bodies and messages cannot drift apart between routes.
 */
import type { z } from 'zod';
import { errorBodySchema } from '../models/contracts/api.ts';
import { AppError } from './errors.ts';

/** The OpenAPI entry of an error answer: the one error body of the API. */
export const error = (description: string) => ({ description, content: { 'application/json': { schema: errorBodySchema } } });

/** The OpenAPI entry of a JSON answer of `schema`. */
export const json = <S extends z.ZodType>(description: string, schema: S) => ({ description, content: { 'application/json': { schema } } });

/** The OpenAPI entry of a required JSON request body of `schema` (`request: { body: jsonBody(schema) }`). */
export const jsonBody = <S extends z.ZodType>(schema: S) => ({ required: true as const, content: { 'application/json': { schema } } });

/**
 * A 400 naming one field, in the shape of the validation errors (server/errors.ts validationError).
 * @param where what holds the field, for the message: `request body` (default) or `query parameters`
 * @example fieldError('modelId', 'no model 42') // 400 "Invalid request body: modelId: no model 42"
 */
export function fieldError(field: string, message: string, where = 'request body'): AppError {
  return new AppError('invalid_request', 400, `Invalid ${where}: ${field}: ${message}`, [{ field, message }]);
}

/**
 * A 404 for a missing `what` of id `id`, naming the parameter that held it.
 * @example notFound('training', id) // 404 "No training <id>", details {field: 'id'}
 */
export function notFound(what: string, id: string, field = 'id'): AppError {
  return new AppError('not_found', 404, `No ${what} ${id}`, { field });
}
