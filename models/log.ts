/**
 * A small structured logger: one line per event, `time level [component] message key=value`.
 * Node-only (writes to stderr through console). Secrets stay out of the log:
 * fields named like a key or token are written `(redacted)`, and a failed
 * query's parameters (drizzle puts them in its error's message) are left out.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: number = ORDER[(process.env.LOG_LEVEL as Level) ?? 'info'] ?? ORDER.info;

/** Changes the level of every logger (normally from `LOG_LEVEL`). */
export function setLogLevel(level: Level): void {
  threshold = ORDER[level];
}

/** C0/C1 controls and the Unicode line separators: a request path decoded from `%0A` must not start a forged log line. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with control characters written as `\n`, `\u001b`… so one event stays one line. */
export function escapeControls(s: string): string {
  return s.replace(CONTROLS, (ch) => SHORT[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Keys whose values are never logged (an LLM endpoint's key, a hub token, a password). */
const SECRET_KEY = /^(api[-_]?key|authorization|password|secret|token|hf[-_]?token|access[-_]?token)$/i;

/** drizzle's DrizzleQueryError message is `Failed query: <sql>\nparams: <values>`; a stack continues with `\n    at …`. */
const QUERY_PARAMS = /(Failed query: [\s\S]*?\nparams: )[\s\S]*?(?=\n {4}at |$)/g;

/**
 * `text` with the parameters of a failed query left out: drizzle writes them
 * into its error's message (and so its stack), and they may hold an API key
 * or a user's text.
 * @example redactQueryParams('Failed query: update settings …\nparams: llm,{"apiKey":"sk-1"}') // 'Failed query: update settings …\nparams: (not logged)'
 */
export function redactQueryParams(text: string): string {
  return text.includes('Failed query: ') ? text.replace(QUERY_PARAMS, '$1(not logged)') : text;
}

/**
 * An error as a log field: its message (or its stack, with `stack`), the
 * parameters of a failed query left out, and a query error's cause (the
 * PostgreSQL error: message and SQLSTATE, never its `detail`, which may
 * quote the row) appended.
 */
export function errorForLog(err: unknown, opts: { stack?: boolean } = {}): string {
  if (!(err instanceof Error)) return redactQueryParams(String(err));
  let text = redactQueryParams(opts.stack ? (err.stack ?? err.message) : err.message);
  const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
  if ('query' in err && 'params' in err && cause && typeof cause.message === 'string') {
    text += `\ncause: ${redactQueryParams(cause.message)}${typeof cause.code === 'string' ? ` (SQLSTATE ${cause.code})` : ''}`;
  }
  return text;
}

/** JSON.stringify's replacer for logged values: secrets by key, errors by {@link errorForLog}. */
function redacting(key: string, value: unknown): unknown {
  if (key && SECRET_KEY.test(key) && value !== null && value !== undefined && value !== '') return '(redacted)';
  if (value instanceof Error) return errorForLog(value);
  return value;
}

function format(value: unknown, key = ''): string {
  if (key && SECRET_KEY.test(key) && value !== null && value !== '') return '(redacted)';
  if (value instanceof Error) return escapeControls(JSON.stringify(errorForLog(value)));
  if (typeof value === 'string') {
    const v = redactQueryParams(value);
    return /[\s"=]/.test(v) || HAS_CONTROL.test(v) ? escapeControls(JSON.stringify(v)) : v;
  }
  return escapeControls(redactQueryParams(JSON.stringify(value, redacting) ?? String(value)));
}

/** A logger for one component, e.g. `logger('server')`. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Creates a logger whose lines carry `[component]`. */
export function logger(component: string): Logger {
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < threshold) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${component}] ${escapeControls(redactQueryParams(message))}`;
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${format(v, k)}`;
    (level === 'error' || level === 'warn' ? console.error : console.log)(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
