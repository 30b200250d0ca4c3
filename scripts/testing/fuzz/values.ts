/**
 * Values for the route fuzzer: hostile strings and numbers, path segments and
 * query values, and fast-check arbitraries of the values a JSON schema allows
 * (clean, inside every bound, so a request gets past validation; or with edge
 * and nasty leaves), with a mutation that breaks one node of a value. A uuid
 * field or parameter gets a reference to a pool of ids of rows that exist
 * ({@link ref}), resolved when the request is sent.
 */
import fc from 'fast-check';
import type { Schema } from './openapi.ts';

/** A loopback port where nothing listens: an LLM endpoint the fuzzer sets fails at once. */
export const CLOSED_URL = 'http://127.0.0.1:9/v1';

/** A reference to a pool, resolved when the request is sent (rows created meanwhile join the pools). */
export const REF = '\u0001ref:';
/** The `n`-th id (modulo the pool's size) of pool `pool` (`models`, `datasets`, ..., `features` as `saeId:index`). */
export const ref = (pool: string, n: number) => `${REF}${pool}:${n}`;

const LONG = 'x'.repeat(5000);
/** Strings that break naive code: NUL, lone surrogates, bidi overrides, paths, injections, very long text. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\udbff\udfff',
  '\ud83d\ude00 emoji',
  'ｆｕｌｌｗｉｄｔｈ',
  'e\u0301',
  '\u202eevil',
  '../../etc/passwd',
  '..',
  '/etc/passwd',
  '/',
  '/proc/self/environ',
  '/dev/zero',
  'C:\\Windows\\system32',
  '\\\\server\\share',
  '%0A',
  '%00',
  '%2e%2e%2f',
  'line\nbreak',
  'cr\rlf\n',
  '\t',
  "'; DROP TABLE models; --",
  '"quoted"',
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
  'null',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  'file:///etc/passwd',
  'javascript:alert(1)',
  LONG,
  'é'.repeat(3000),
];
/** Numbers at the edges: signed zero, fractions, 2^31, 2^32, 2^53 and past, the largest and the smallest doubles. */
const NASTY_NUMBERS = [0, -0, -1, 0.5, -0.5, 1e-7, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 1e21, 1e308, -1e308, 5e-324];

/** A hostile string: NUL, lone surrogates, bidi overrides, paths, injections, very long text, or random code points. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
);

/** Any small JSON-ish value, for a field of the wrong type. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(...NASTY_NUMBERS),
  nastyString,
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** Path segments that are not ids: numbers, percent-encoding that is not UTF-8, dot segments, uuids of the wrong shape. */
export const SEGMENTS = [
  '0',
  '-1',
  '99999999999999999999',
  'null',
  'undefined',
  '%00',
  '%ED%A0%80',
  '%FF',
  '%',
  '%ZZ',
  '..',
  '%2e%2e',
  '%2F',
  'a%2Fb',
  '%0A',
  'x'.repeat(3000),
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  '{00000000-0000-4000-8000-000000000000}',
  '00000000-0000-4000-8000-00000000000',
  '00000000-0000-4000-8000-000000000000:',
  '00000000-0000-4000-8000-000000000000:0',
  '00000000-0000-4000-8000-000000000000:999999999',
];

/** Query values as sent, already percent-encoded (some not UTF-8), or numbers a parser may misread. */
export const RAW_QUERY_VALUES = ['%00', '%ED%A0%80', '%FF%FE', '%', '%ZZ', '%0A', '%C0%AF', '', '-1', '1e309', 'NaN', 'Infinity', '0x10', '1.5', ' 1', 'true', '99999999999999999999999'];

/** `s` percent-encoded (a pool reference is left for {@link REF} resolution); a lone surrogate (which encodeURIComponent refuses) goes as its WTF-8 bytes, which are not UTF-8. */
export function encode(s: string): string {
  if (s.startsWith(REF)) return s;
  try {
    return encodeURIComponent(s);
  } catch {
    let out = '';
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
      else out += encodeURIComponent(ch);
    }
    return out;
  }
}

/** The pool a uuid field or parameter refers to, from its name and route. */
function poolOf(key: string, route: string): string {
  const k = key.toLowerCase();
  if (k === 'modelid' || k === 'tokenizermodelid') return 'models';
  if (k === 'datasetid') return 'datasets';
  if (k === 'extractionid') return 'extractions';
  if (k === 'trainingid') return 'trainings';
  if (k === 'saeid' || k === 'sae') return 'saes';
  if (k === 'templateid') return route.startsWith('/api/trainings') ? 'training-templates' : 'extraction-templates';
  return route.split('/')[2] ?? 'models';
}

/** A number of a schema (an integer when `integer`): in its bounds when `clean`, else sometimes at, past or far from them. */
function numberArb(s: Schema, integer: boolean, clean: boolean): fc.Arbitrary<number> {
  const lo = s.minimum ?? s.exclusiveMinimum ?? -1e6;
  const hi = s.maximum ?? s.exclusiveMaximum ?? 1e6;
  const inRange = integer
    ? fc.double({ min: Math.ceil(lo), max: Math.floor(hi), noNaN: true }).map((x) => Math.min(Math.floor(hi), Math.max(Math.ceil(lo), Math.round(x))))
    : fc.double({ min: lo, max: hi, noNaN: true, minExcluded: s.exclusiveMinimum !== undefined, maxExcluded: s.exclusiveMaximum !== undefined });
  if (clean) return fc.oneof(inRange, fc.constantFrom(Math.max(lo, Math.min(hi, integer ? 1 : 0.5))));
  const edges = fc.constantFrom(lo, hi, lo - 1, hi + 1, lo + 0.5, Math.floor((lo + hi) / 2));
  return fc.oneof({ weight: 6, arbitrary: inRange }, { weight: 3, arbitrary: edges }, { weight: 1, arbitrary: fc.constantFrom(...NASTY_NUMBERS) });
}

/** A string of a schema: a pool reference for a uuid, an unreachable URL for a uri, else its pattern or length, with `extras` (known good values by field name) and, unless `clean`, edges and hostile strings. */
function stringArb(s: Schema, key: string, route: string, extras: Record<string, string[]>, clean: boolean): fc.Arbitrary<string> {
  if (s.format === 'uuid') {
    if (clean) return fc.oneof({ weight: 9, arbitrary: fc.nat(50).map((n) => ref(poolOf(key, route), n)) }, { weight: 1, arbitrary: fc.uuid() });
    return fc.oneof({ weight: 6, arbitrary: fc.nat(50).map((n) => ref(poolOf(key, route), n)) }, { weight: 2, arbitrary: fc.uuid() }, { weight: 1, arbitrary: nastyString });
  }
  if (s.format === 'uri') {
    if (clean) return fc.constantFrom(CLOSED_URL, 'http://localhost:9/v1');
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(CLOSED_URL, 'http://localhost:9/v1', 'http://[::1]:9/v1', 'http://127.0.0.1:9/v1/../../x?y=%00#z') },
      { weight: 1, arbitrary: fc.constantFrom('file:///etc/passwd', 'javascript:alert(1)', 'a:b', 'mailto:x@y', 'data:text/plain,hi', 'http://', 'ftp://127.0.0.1:9/', 'http://127.0.0.1:99999/') },
      { weight: 1, arbitrary: nastyString },
    );
  }
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 60, 60);
  let base: fc.Arbitrary<string>;
  if (s.pattern && !s.pattern.includes('(?')) {
    const re = new RegExp(s.pattern);
    base = fc.stringMatching(re, { size: 'small' }).filter((x) => x.length >= min && x.length <= (s.maxLength ?? Infinity));
  } else {
    base = fc.string({ minLength: min, maxLength: Math.max(min, max) });
  }
  const known = extras[key] ?? [];
  if (clean) return known.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: base }) : base;
  const bounds = [min > 0 ? 'x'.repeat(min - 1) : '', s.maxLength !== undefined ? 'y'.repeat(s.maxLength) : LONG, s.maxLength !== undefined ? 'z'.repeat(s.maxLength + 1) : LONG];
  return fc.oneof(
    { weight: 5, arbitrary: base },
    { weight: known.length ? 4 : 0, arbitrary: known.length ? fc.constantFrom(...known) : fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom(...bounds) },
    { weight: 3, arbitrary: nastyString },
  );
}

/**
 * Valid-shaped values of a JSON schema: `clean` ones keep every leaf inside
 * its bounds (so a request gets past validation into the route), the others
 * have edge and nasty leaves.
 */
export function valueArb(s: Schema, key: string, route: string, extras: Record<string, string[]>, clean = false): fc.Arbitrary<unknown> {
  const alts = s.oneOf ?? s.anyOf;
  if (alts) return fc.oneof(...alts.map((a) => valueArb(a, key, route, extras, clean)));
  if (s.allOf) return valueArb(Object.assign({}, ...s.allOf) as Schema, key, route, extras, clean);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return clean ? fc.constantFrom(...s.enum) : fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...s.enum) }, { weight: 1, arbitrary: nastyString });
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : ['string'];
  if (types.length > 1) return fc.oneof(...types.map((t) => valueArb({ ...s, type: t }, key, route, extras, clean)));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return numberArb(s, true, clean);
    case 'number':
      return numberArb(s, false, clean);
    case 'array': {
      const item = valueArb(s.items ?? {}, key, route, extras, clean);
      const min = s.minItems ?? 0;
      if (clean) return fc.array(item, { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? 3, 3)) });
      return fc.oneof(
        { weight: 6, arbitrary: fc.array(item, { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? 4, 4)) }) },
        { weight: 1, arbitrary: fc.constant(s.maxItems !== undefined ? Array.from({ length: s.maxItems + 1 }, () => 'x') : Array.from({ length: 3000 }, (_, i) => i)) },
      );
    }
    case 'object': {
      const props = Object.entries(s.properties ?? {});
      const model = Object.fromEntries(props.map(([k, v]) => [k, valueArb(v, k, route, extras, clean)]));
      return fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in model) });
    }
    default:
      return stringArb(s, key, route, extras, clean);
  }
}

/** How {@link mutate} changes a node. */
export type Op = 'replace' | 'delete' | 'extra' | 'wrap' | 'unsafe-key';

/** `value` with one of its nodes (the `n`-th, root included) replaced, deleted, wrapped or given an extra key. */
export function mutate(value: unknown, n: number, op: Op, replacement: unknown): unknown {
  const copy = structuredClone(value) as unknown;
  const nodes: { parent: Record<string | number, unknown> | null; key: string | number | null; node: unknown }[] = [];
  const walk = (node: unknown, parent: Record<string | number, unknown> | null, key: string | number | null) => {
    nodes.push({ parent, key, node });
    if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, node as Record<string, unknown>, Array.isArray(node) ? Number(k) : k);
  };
  walk(copy, null, null);
  const at = nodes[n % nodes.length]!;
  const set = (v: unknown) => {
    if (!at.parent) return v;
    at.parent[at.key!] = v;
    return copy;
  };
  switch (op) {
    case 'replace':
      return set(replacement);
    case 'wrap':
      return set([at.node]);
    case 'delete':
      if (!at.parent) return undefined;
      if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 1);
      else delete at.parent[at.key!];
      return copy;
    case 'extra':
    case 'unsafe-key': {
      const target = at.node && typeof at.node === 'object' && !Array.isArray(at.node) ? (at.node as Record<string, unknown>) : null;
      if (!target) return set({ unexpected: replacement });
      target[op === 'extra' ? 'unexpected' : 'bad\u0000key\ud800'] = replacement;
      return copy;
    }
  }
}
