/**
 * Text that PostgreSQL can store and a screen can show. PostgreSQL refuses
 * NUL (U+0000) in `text` and `jsonb` (`invalid byte sequence for encoding
 * "UTF8": 0x00`, `unsupported Unicode escape sequence`), and a lone UTF-16
 * surrogate is no character at all (node-postgres would turn it into U+FFFD
 * on the way, jsonb refuses its `\ud800` escape). Loupe derives such text
 * itself — the display string of a token that decodes to byte 0, a label an
 * LLM answered, a document of a dataset — so every writer of derived text
 * passes it through {@link safeText} or {@link safeJson}, and the tokenizer's
 * display strings use the same mapping, so what is stored and what is shown
 * live agree: NUL is shown as `␀` (U+2400, SYMBOL FOR NULL), a lone
 * surrogate as `�` (U+FFFD).
 *
 * Browser-safe: no Node imports.
 */

/** What NUL is shown and stored as: U+2400 SYMBOL FOR NULL. */
export const NUL_SYMBOL = '\u2400';

/** NUL, or a surrogate half without its other half. */
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const HAS_UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` holds a NUL or a lone surrogate (what {@link safeText} would change). */
export function hasUnsafeText(s: string): boolean {
  return HAS_UNSAFE.test(s);
}

/**
 * `s` with NUL written as `␀` and each lone surrogate as `�`; `s` itself when
 * it has neither (the common case costs one regex test).
 * @example safeText('a\u0000b') // 'a␀b'
 */
export function safeText(s: string): string {
  return HAS_UNSAFE.test(s) ? s.replace(UNSAFE, (ch) => (ch === '\u0000' ? NUL_SYMBOL : '\uFFFD')) : s;
}

/** A JSON text holding an escaped NUL or a (possibly lone) surrogate: JSON.stringify writes lone surrogates as `\udxxx`. */
const JSON_SUSPECT = /\\u0000|\\ud[89a-f]/i;

/**
 * A copy of a JSON-able value with {@link safeText} applied to every string
 * and object key in it (arrays, plain objects; numbers, booleans and null as
 * they are); the value itself when nothing in it needs a change, found with
 * one JSON.stringify, so large numeric results (an ablation's deltas) are not
 * copied.
 */
export function safeJson<T>(value: T): T {
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return safeText(value) as T;
  const text = JSON.stringify(value);
  if (text === undefined || !JSON_SUSPECT.test(text)) return value;
  return deep(value) as T;
}

function deep(v: unknown): unknown {
  if (typeof v === 'string') return safeText(v);
  if (Array.isArray(v)) return v.map(deep);
  if (v !== null && typeof v === 'object') {
    // Dates, typed arrays… go as JSON.stringify would write them
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return deep((v as { toJSON(): unknown }).toJSON());
    if (ArrayBuffer.isView(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[safeText(k)] = deep(x);
    return out;
  }
  return v;
}

/**
 * `JSON.stringify(safeJson(value))` in one pass when nothing needs a change:
 * for a JSON parameter that PostgreSQL expands into text or jsonb columns
 * (`json_to_recordset`).
 */
export function safeJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  return text !== undefined && JSON_SUSPECT.test(text) ? JSON.stringify(deep(value)) : text;
}
