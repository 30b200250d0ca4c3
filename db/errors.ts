/**
 * Failed queries as the rest of Loupe sees them. drizzle wraps a failed
 * query in a DrizzleQueryError whose message is the SQL and its parameters
 * (`Failed query: …\nparams: …`, an LLM key or a whole result among them) and
 * whose `cause` is the PostgreSQL error (its `detail` may quote the row).
 * None of that goes to a client, a job's recorded output or the log: they get
 * {@link queryErrorMessage}, the PostgreSQL message and its SQLSTATE.
 */
import { hasUnsafeText, safeText } from '../models/safe-text.ts';

/** A failed query as drizzle reports it: the SQL, its parameters, the driver's error as `cause`. */
export interface QueryError extends Error {
  query: string;
  params: unknown[];
}

/** True for drizzle's DrizzleQueryError (duck-typed: one drizzle build or another). */
export function isQueryError(err: unknown): err is QueryError {
  return err instanceof Error && typeof (err as Partial<QueryError>).query === 'string' && 'params' in err;
}

/** The SQLSTATE of a PostgreSQL error, or of the one a query error wraps; undefined for any other error. */
export function sqlState(err: unknown): string | undefined {
  const e = isQueryError(err) ? err.cause : err;
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * SQLSTATE classes another attempt of the same statement with the same
 * values fails again: 22 data exception (a NUL in text, a value too long),
 * 23 integrity constraint violation, 42 syntax error or access rule
 * violation, 54 program limit exceeded (a row too big). Connection (08),
 * resource (53), lock and serialization (40, 55P03) failures may pass next time.
 */
const DETERMINISTIC_CLASSES = new Set(['22', '23', '42', '54']);

/** True when `err` is a PostgreSQL error that a retry would hit again (see {@link DETERMINISTIC_CLASSES}). */
export function isDeterministicDbError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && DETERMINISTIC_CLASSES.has(state.slice(0, 2));
}

/**
 * A failed query in words that hold no SQL and no values: the PostgreSQL
 * message and SQLSTATE (`a database query failed: value too long for type
 * character varying(20) (SQLSTATE 22001)`).
 */
export function queryErrorMessage(err: QueryError): string {
  const cause = err.cause as { message?: unknown } | undefined;
  const reason = typeof cause?.message === 'string' && cause.message ? cause.message : 'no reason given';
  const state = sqlState(err);
  return safeText(`a database query failed: ${reason}${state ? ` (SQLSTATE ${state})` : ''}`);
}

/**
 * The error to hand pg-boss as a failed job's recorded output (which
 * `GET /api/jobs/{id}` and the analysis routes show, and which must fit in
 * jsonb): a query error becomes an Error of the same name with
 * {@link queryErrorMessage} and none of its SQL, values or driver fields; a
 * message that quotes a failed query says only that one failed; NUL and lone
 * surrogates are made storable. Any other error is returned as it is.
 */
export function recordableError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  let message: string | undefined;
  if (isQueryError(err)) message = queryErrorMessage(err);
  else if (err.message.includes('Failed query: ')) message = 'a database query failed';
  else if (hasUnsafeText(err.message)) message = safeText(err.message);
  if (message === undefined) return err;
  const out = new Error(message);
  out.name = err.name;
  // the frames of the original stack, under the new message
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  out.stack = [`${err.name}: ${message}`, ...frames].join('\n');
  return out;
}
