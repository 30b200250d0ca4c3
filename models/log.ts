/**
 * A small structured logger: one line per event, `time level [component] message key=value`.
 * Node-only (writes to stderr through console).
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

function format(value: unknown): string {
  if (value instanceof Error) return escapeControls(JSON.stringify(value.message));
  if (typeof value === 'string') return /[\s"=]/.test(value) || HAS_CONTROL.test(value) ? escapeControls(JSON.stringify(value)) : value;
  return escapeControls(JSON.stringify(value) ?? String(value));
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
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${component}] ${escapeControls(message)}`;
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${format(v)}`;
    (level === 'error' || level === 'warn' ? console.error : console.log)(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
