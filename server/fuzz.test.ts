/**
 * The route fuzzer: every operation of the app's own OpenAPI document, hit
 * with requests that fast-check generates from its schemas, over a real
 * PostgreSQL and pg-boss (no worker: the jobs it queues stay queued).
 *
 * For each operation, with a fixed seed: path parameters (ids of rows that
 * exist, random UUIDs, garbage segments), query parameters (valid-shaped
 * values, values out of range, raw percent-encoding that is not UTF-8) and
 * JSON bodies that are (i) valid-shaped from the schema, with numbers in and
 * out of their bounds and strings holding NUL, lone surrogates, path-like and
 * very long text, (ii) invalid (a value replaced by another type, a required
 * field dropped, an unknown field added, the whole body swapped) or (iii) not
 * JSON at all, or sent with another content type. Every answer must be a
 * status below 500 (or a 5xx its route documents, such as the LLM test's
 * 502), every 4xx must carry `{error: {code, message}}`, and a 400
 * `invalid_request` must name the fields in `details`. Every failure is
 * collected, grouped by route and cause (the server log line of its request
 * id), and reported with its smallest request before the test fails.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TrainConfigResolved } from '../models/contracts/trainings.ts';
import type { FeatureRecord } from '../models/features/records.ts';
import { logger, setLogLevel } from '../models/log.ts';
import { DEMO_MODEL_DIR } from '../models/model-files.ts';
import { resolveTrainConfig } from '../models/sae/config.ts';
import { saveSae } from '../models/sae/saelens.ts';
import { trainingHookDir } from '../models/sae/files.ts';
import { insertDiscovery, updateDiscovery } from '../db/queries/discoveries.ts';
import { insertExtraction } from '../db/queries/extractions.ts';
import { replaceFeatures } from '../db/queries/features.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { insertSae } from '../db/queries/saes.ts';
import { insertTraining, updateTraining, upsertMetrics } from '../db/queries/trainings.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { randomSae } from '../scripts/testing/features.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { completedExtraction } from '../scripts/testing/training.ts';
import { registerDemoModel } from '../workers/demo-model.ts';

/** The seed of every generated request: the same requests on every run. */
const SEED = 20_250_611;
/** Requests per operation without a body, and per operation with one. */
const RUNS_PLAIN = 60;
const RUNS_BODY = 180;
/** The fuzzing stops (and says so) past this much wall time, ms. */
const BUDGET_MS = 75_000;
const HOOK = 'blocks.1.hook_resid_post';
const D_MODEL = 256;
/** a loopback port where nothing listens: an LLM endpoint the fuzzer sets fails at once */
const CLOSED_URL = 'http://127.0.0.1:9/v1';

// ---------------------------------------------------------------- schemas

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: Schema;
}

interface Operation {
  method: string;
  /** the OpenAPI path, `/api/models/{id}` */
  route: string;
  params: Parameter[];
  body?: { contentType: string; schema: Schema; required: boolean };
  /** statuses of 500 and above that the route documents (e.g. the LLM test's 502) */
  documented5xx: Set<number>;
}

/** Pools of ids, by the collection that owns them (`models`, `datasets`, ..., `features` as `saeId:index`). */
type Pools = Map<string, string[]>;

/** A reference to a pool, resolved when the request is sent (rows created meanwhile join the pools). */
const REF = '\u0001ref:';
const ref = (pool: string, n: number) => `${REF}${pool}:${n}`;

// ---------------------------------------------------------------- nasty values

const LONG = 'x'.repeat(5000);
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
const NASTY_NUMBERS = [0, -0, -1, 0.5, -0.5, 1e-7, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 1e21, 1e308, -1e308, 5e-324];

const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
);

/** Any small JSON-ish value, for a field of the wrong type. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
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

const SEGMENTS = [
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

const RAW_QUERY_VALUES = ['%00', '%ED%A0%80', '%FF%FE', '%', '%ZZ', '%0A', '%C0%AF', '', '-1', '1e309', 'NaN', 'Infinity', '0x10', '1.5', ' 1', 'true', '99999999999999999999999'];

/** `s` percent-encoded (a pool reference is left for {@link REF} resolution); a lone surrogate (which encodeURIComponent refuses) goes as its WTF-8 bytes, which are not UTF-8. */
function encode(s: string): string {
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

// ---------------------------------------------------------------- arbitraries from schemas

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
function valueArb(s: Schema, key: string, route: string, extras: Record<string, string[]>, clean = false): fc.Arbitrary<unknown> {
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

type Op = 'replace' | 'delete' | 'extra' | 'wrap' | 'unsafe-key';

/** `value` with one of its nodes (the `n`-th, root included) replaced, deleted, wrapped or given an extra key. */
function mutate(value: unknown, n: number, op: Op, replacement: unknown): unknown {
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

const MALFORMED = [
  '',
  ' ',
  '{',
  '}',
  '{"a":',
  '{"source":',
  '[1,2',
  '{"a":1,}',
  "{'a':1}",
  'nul',
  'undefined',
  'NaN',
  '{"a":NaN}',
  '{"a":1e999}',
  '{"a":"\\x"}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"\\u0000":1}',
  '\u0000',
  '\ufeff{}',
  '{"a":1}{"b":2}',
  '{"a":1} trailing',
  '['.repeat(4000) + ']'.repeat(4000),
  '['.repeat(5000),
  '{"a":'.repeat(3000),
  '['.repeat(100_000) + ']'.repeat(100_000),
  '"' + 'a'.repeat(1000) + '"',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
];

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/xml',
  'application/json, text/plain',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'application/octet-stream',
  '*/*',
  'garbage',
];

/** A request as generated: refs still unresolved. */
interface Spec {
  kind: string;
  pathParams: Record<string, string>;
  /** `k=v` pairs, already encoded */
  query: string[];
  headers: Record<string, string>;
  /** a JSON value to serialise, raw text, bytes, or a stream of chunks */
  body?: { json: unknown } | { text: string } | { bytes: Uint8Array } | { chunks: Uint8Array[]; error?: boolean };
  /** the target as it is (targeted cases), instead of the route with its parameters */
  rawUrl?: string;
}

function pathParamArb(p: Parameter, route: string): fc.Arbitrary<string> {
  const pool = route.split('/')[2]!;
  if (pool === 'features') {
    const index = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('0', '1', '2') }, { weight: 1, arbitrary: fc.constantFrom('7', '999999999', '2147483647', '-1', '01', '1.5', '') });
    return fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.nat(20), index).map(([n, i]) => `${ref('saes', n)}:${i}`) },
      { weight: 2, arbitrary: fc.tuple(fc.uuid(), index).map(([u, i]) => `${u}:${i}`) },
      { weight: 2, arbitrary: fc.constantFrom(...SEGMENTS) },
      { weight: 1, arbitrary: nastyString.map(encode) },
    );
  }
  if (p.schema.enum) return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...(p.schema.enum as string[])) }, { weight: 2, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: nastyString.map(encode) });
  return fc.oneof(
    { weight: 6, arbitrary: fc.nat(50).map((n) => ref(pool, n)) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...SEGMENTS) },
    { weight: 1, arbitrary: nastyString.map(encode) },
  );
}

function queryArb(params: Parameter[], route: string, extras: Record<string, string[]>): fc.Arbitrary<string[]> {
  const cleanOne = (p: Parameter): fc.Arbitrary<string[]> => valueArb(p.schema, p.name, route, extras, true).map((v) => [`${p.name}=${encode(typeof v === 'string' ? v : JSON.stringify(v))}`]);
  // every parameter clean: the request reaches the route
  const clean = fc.tuple(...params.map((p) => (p.required ? cleanOne(p) : fc.option(cleanOne(p), { nil: [] })))).map((ps) => ps.flat());
  const one = (p: Parameter): fc.Arbitrary<string[]> =>
    fc.oneof(
      { weight: 3, arbitrary: cleanOne(p) },
      { weight: 3, arbitrary: valueArb(p.schema, p.name, route, extras).map((v) => [`${p.name}=${encode(typeof v === 'string' ? v : JSON.stringify(v))}`]) },
      { weight: 2, arbitrary: fc.constantFrom(...RAW_QUERY_VALUES).map((v) => [`${p.name}=${v}`]) },
      { weight: 1, arbitrary: fc.tuple(nastyString, nastyString).map(([a, b]) => [`${p.name}=${encode(a)}`, `${p.name}=${encode(b)}`]) },
      { weight: 1, arbitrary: fc.constant<string[]>([p.name]) },
    );
  const parts = params.map((p) => (p.required ? one(p) : fc.option(one(p), { nil: [], freq: 2 })));
  const extra = fc.option(
    fc.oneof(fc.constantFrom('unknown=1', '=', '&&', 'a=b=c', '%00=%00', 'token=x'), nastyString.map((s) => `${encode(s)}=${encode(s)}`)),
    { nil: '', freq: 4 },
  );
  return fc.oneof(clean, fc.tuple(fc.tuple(...parts), extra).map(([ps, e]) => [...ps.flat(), ...(e ? [e] : [])]));
}

function bodyArb(op: Operation, extras: Record<string, string[]>): fc.Arbitrary<Pick<Spec, 'kind' | 'body' | 'headers'>> {
  const json = { 'content-type': 'application/json' };
  if (op.route === '/api/datasets/upload') {
    const bytes = fc.oneof(
      fc.constantFrom('hello world\n\nsecond paragraph\n', '{"text":"a"}\n{"text":"b"}\n', 'text,id\n"a, b",1\n', '', '\u0000\u0001\u0002', 'PAR1\u0000\u0000PAR1', 'PK\u0003\u0004junk').map((s) => new TextEncoder().encode(s)),
      fc.uint8Array({ maxLength: 200 }),
    );
    // A header is bytes on the wire: UTF-8 text arrives as its bytes, one latin1 character each.
    const cd = fc.option(nastyString.map((s) => Buffer.from(`attachment; filename="${s.replace(/[\r\n\0]/g, '')}"`, 'utf8').toString('latin1')), { nil: undefined, freq: 3 });
    return fc.tuple(bytes, fc.constantFrom('application/octet-stream', 'application/octet-stream', 'application/json', 'multipart/form-data; boundary=zz', 'text/plain'), cd).map(([b, ct, disposition]) => ({
      kind: 'upload',
      body: { bytes: b },
      headers: { 'content-type': ct, ...(disposition ? { 'content-disposition': disposition } : {}) },
    }));
  }
  if (!op.body) {
    if (op.method === 'get') return fc.constant({ kind: 'no-body', headers: {} });
    return fc.oneof(
      { weight: 8, arbitrary: fc.constant({ kind: 'no-body', headers: {} }) },
      { weight: 1, arbitrary: anyValue.map((v) => ({ kind: 'unexpected-body', body: { json: v }, headers: json })) },
      { weight: 1, arbitrary: fc.constantFrom(...MALFORMED).map((t) => ({ kind: 'unexpected-malformed', body: { text: t }, headers: json })) },
    );
  }
  const clean = valueArb(op.body.schema, '(root)', op.route, extras, true);
  // only the required fields (clean): the defaults, which most requests of a real client use
  const requiredOnly: Schema = { ...op.body.schema, properties: Object.fromEntries(Object.entries(op.body.schema.properties ?? {}).filter(([k]) => op.body!.schema.required?.includes(k))) };
  const required = valueArb(requiredOnly, '(root)', op.route, extras, true);
  const valid = valueArb(op.body.schema, '(root)', op.route, extras);
  const mutated = fc
    .tuple(valid, fc.nat(), fc.constantFrom<Op>('replace', 'replace', 'delete', 'extra', 'wrap', 'unsafe-key'), anyValue)
    .map(([v, n, o, r]) => mutate(v, n, o, r));
  const truncated = fc.tuple(valid, fc.nat()).map(([v, n]) => {
    const t = JSON.stringify(v) ?? '';
    return t.slice(0, n % Math.max(1, t.length));
  });
  return fc.oneof(
    { weight: 8, arbitrary: clean.map((v) => ({ kind: 'valid', body: { json: v }, headers: json })) },
    { weight: 3, arbitrary: required.map((v) => ({ kind: 'valid', body: { json: v }, headers: json })) },
    { weight: 8, arbitrary: valid.map((v) => ({ kind: 'valid-shaped', body: { json: v }, headers: json })) },
    { weight: 6, arbitrary: mutated.map((v) => ({ kind: 'invalid', body: { json: v }, headers: json })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => ({ kind: 'any-json', body: { json: v }, headers: json })) },
    { weight: 1, arbitrary: fc.constantFrom(null, [], 0, 'str', true).map((v) => ({ kind: 'wrong-root', body: { json: v }, headers: json })) },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...MALFORMED), truncated, fc.string({ unit: 'binary', maxLength: 40 })).map((t) => ({ kind: 'malformed', body: { text: t }, headers: json })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'bytes', body: { bytes: b }, headers: json })) },
    { weight: 2, arbitrary: fc.tuple(valid, fc.constantFrom(...CONTENT_TYPES)).map(([v, ct]) => ({ kind: 'content-type', body: { json: v }, headers: { 'content-type': ct } })) },
    { weight: 1, arbitrary: valid.map((v) => ({ kind: 'no-content-type', body: { json: v }, headers: {} })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty', headers: json }) },
  );
}

function specArb(op: Operation, extras: Record<string, string[]>): fc.Arbitrary<Spec> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const paths = fc.tuple(...pathParams.map((p) => pathParamArb(p, op.route))).map((vs) => Object.fromEntries(vs.map((v, i) => [pathParams[i]!.name, v])));
  return fc.tuple(paths, queryArb(queryParams, op.route, extras), bodyArb(op, extras)).map(([pp, query, b]) => ({ ...b, pathParams: pp, query }));
}

// ---------------------------------------------------------------- the run

interface Failure {
  key: string;
  reason: string;
  count: number;
  /** the smallest failing request */
  repro: string;
  reproSize: number;
  log: string;
}

function operationsOf(doc: { paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> }; responses?: Record<string, unknown> }>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [route, methods] of Object.entries(doc.paths)) {
    for (const [method, o] of Object.entries(methods)) {
      const content = o.requestBody ? Object.entries(o.requestBody.content)[0] : undefined;
      ops.push({
        method,
        route,
        params: o.parameters ?? [],
        body: content ? { contentType: content[0], schema: content[1].schema, required: o.requestBody?.required ?? false } : undefined,
        documented5xx: new Set(Object.keys(o.responses ?? {}).map(Number).filter((s) => s >= 500)),
      });
    }
  }
  return ops;
}

describe('route fuzzer', () => {
  let db: TestDatabase;
  let t: TestApp;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-fuzz-'));
  const dataDir = path.join(tmp, 'data');
  const pools: Pools = new Map();
  const addToPool = (pool: string, id: string) => {
    const list = pools.get(pool) ?? [];
    if (!list.includes(id) && list.length < 40) list.push(id);
    pools.set(pool, list);
  };
  let saeDir = '';

  beforeAll(async () => {
    db = await createTestDatabase('loupe_fuzz');
    await registerDemoModel(db.db, logger('test'));
    addToPool('models', DEMO_MODEL_ID);
    // A completed dataset and extraction (small), an SAE trained "by" a completed training, an imported one, and its features.
    const sliceDir = path.join(tmp, 'slice');
    const dataset = await insertCompletedDataset(db.db, sliceDir, await tokenizeDemo(sliceDir, 1200));
    addToPool('datasets', dataset.id);
    const extraction = await completedExtraction(db.db, dataDir, dataset, [HOOK], { dtype: 'fp32', storage: 'f32', contextLength: 16, batchSize: 8, tokenBudget: 16 * 16, stride: null, keepBos: false, prependBos: null, windowsPerShard: 8 });
    addToPool('extractions', extraction.id);
    const queuedExtraction = await insertExtraction(db.db, { modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: [HOOK], settings: extraction.settings });
    addToPool('extractions', queuedExtraction.id);
    const config: TrainConfigResolved = resolveTrainConfig([{ architecture: 'topk', k: 4, dSae: 32 }], 256);
    const training = await insertTraining(db.db, { name: 'fuzz training', extractionId: extraction.id, hookPoints: [HOOK], config });
    await upsertMetrics(db.db, training.id, [{ hook: HOOK, step: 0, tokens: 0 }, { hook: HOOK, step: 10, tokens: 2560 }]);
    await updateTraining(db.db, training.id, { status: 'completed', finishedAt: new Date() });
    const queuedTraining = await insertTraining(db.db, { name: 'fuzz queued', extractionId: extraction.id, hookPoints: [HOOK], config });
    addToPool('trainings', training.id);
    addToPool('trainings', queuedTraining.id);
    saeDir = trainingHookDir(dataDir, training.id, HOOK);
    const imported = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: D_MODEL, dSae: 32, k: 4 });
    const zeros = (n: number) => new Float32Array(n);
    await saveSae(saeDir, { architecture: 'topk', dIn: D_MODEL, dSae: 32, k: 4, hookName: HOOK, hookLayer: 1, modelName: 'tiny', contextSize: 16, prependBos: false, normalizeActivations: 'none', extra: {} }, {
      W_enc: zeros(D_MODEL * 32),
      b_enc: zeros(32),
      W_dec: zeros(32 * D_MODEL),
      b_dec: zeros(D_MODEL),
    });
    const trained = await insertSae(db.db, { id: randomUUID(), name: 'fuzz sae', trainingId: training.id, modelId: DEMO_MODEL_ID, hookPoint: HOOK, architecture: 'topk', dIn: D_MODEL, dSae: 32, cfg: imported.cfg, metrics: null, path: saeDir });
    addToPool('saes', trained.id);
    addToPool('saes', imported.id);
    const discovery = await insertDiscovery(db.db, { saeId: trained.id, extractionId: extraction.id, settings: { topK: 2, left: 2, right: 1 } });
    await updateDiscovery(db.db, discovery.id, { status: 'running' });
    const records: FeatureRecord[] = [0, 1, 2].map((index) => ({
      index,
      frequency: 0.1 * (index + 1),
      maxActivation: 1 + index,
      meanActivation: 0.5,
      histogram: { edges: [0, 1, 2], counts: [3, 1] },
      heuristicLabel: `feature ${index}`,
      heuristicScore: 0.5,
      heuristicKind: 'token',
      llmLabel: null,
      peakTokens: [10 + index],
      topTokens: [{ token: 10 + index, text: 'x', count: 2 }],
      examples: [{ rank: 0, maxValue: 1, position: 3, start: 0, tokens: [1, 2, 3, 10 + index], values: [0, 0, 0, 1] }],
    }));
    expect(await replaceFeatures(db.db, discovery.id, trained.id, records, { progress: { phase: 'saving', rowsDone: 3, rowsTotal: 3, featuresLabelled: 0, etaSeconds: null }, rows: 10, warning: null })).toBe(true);
    await updateDiscovery(db.db, discovery.id, { status: 'completed' });
    addToPool('discoveries', discovery.id);
    for (const i of [0, 1, 2]) addToPool('features', `${trained.id}:${i}`);

    t = await createTestApp(db, dataDir, { uploadMaxBytes: 4096, analysisWaitMs: 20 });
    // Rows made through the API: templates, a queued hub import (and its job), LLM settings pointing nowhere.
    const post = async <T>(url: string, body: unknown, method = 'POST'): Promise<T> => {
      const res = await t.request(url, { method, body: JSON.stringify(body) });
      expect(res.status, `${url}: ${await res.clone().text()}`).toBeLessThan(300);
      return (await res.json()) as T;
    };
    addToPool('extraction-templates', (await post<{ id: string }>('/api/extraction-templates', { name: 'fuzz', settings: { contextLength: 16 } })).id);
    addToPool('training-templates', (await post<{ id: string }>('/api/training-templates', { name: 'fuzz', settings: { config: { k: 4 } } })).id);
    const queued = await post<{ dataset: { id: string }; job: { id: string } }>('/api/datasets', { source: { kind: 'hub', repo: 'someone/data' } });
    addToPool('datasets', queued.dataset.id);
    addToPool('jobs', queued.job.id);
    const model = await post<{ model: { id: string }; job: { id: string } }>('/api/models', { source: { kind: 'hub', repo: 'someone/model' } });
    addToPool('models', model.model.id);
    addToPool('jobs', model.job.id);
    await post('/api/settings', { llm: { url: CLOSED_URL, model: 'm', apiKey: 'k' } }, 'PUT');
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers thousands of generated requests over every route without a 5xx, with JSON errors naming fields', async () => {
    const docRes = await t.request('/api/openapi.json');
    expect(docRes.status).toBe(200);
    const ops = operationsOf(await docRes.json());
    expect(ops.length).toBeGreaterThan(40);
    // Known good values for fields whose valid values are few (so valid-shaped requests reach past validation).
    const extras: Record<string, string[]> = {
      path: [DEMO_MODEL_DIR, saeDir, path.dirname(saeDir), dataDir, tmp, '/', '/etc', '/proc/self', '/dev/null', '/nonexistent/folder', 'relative/folder', `${saeDir}/../${path.basename(saeDir)}`],
      repo: ['someone/model', 'gpt2', 'a/b', 'owner/../etc', 'a/b/c', '-bad/name', 'x'.repeat(97) + '/y'],
      hookPoints: [HOOK, 'blocks.0.hook_resid_pre', 'blocks.99.hook_resid_post', 'hook_embed', 'ln_final.hook_normalized'],
      hookPoint: [HOOK, 'blocks.0.hook_resid_pre'],
      hook: [HOOK],
      filename: ['a.txt', 'a.jsonl', 'a.csv', 'a.tsv', 'a.parquet', 'a.zip', 'a.json', 'a.txt.gz', 'x.exe', '../../etc/passwd', '.hidden.txt', 'CON.txt', 'a'.repeat(300) + '.txt'],
      textColumn: ['text', 'content'],
      token: [' the', '#0', '#99999999999', '#-1', '#abc'],
      q: ['feature', '%', '_', '\\', "'"],
      metrics: ['cpu', 'cpu,memory', 'gpu.0.util', ',,,'],
      kind: ['model.download', 'dataset.import', 'nope'],
      name: ['fuzz'],
    };

    // Deletions last, so the seeded rows serve every other route first.
    const ordered = [...ops.filter((o) => o.method !== 'delete'), ...ops.filter((o) => o.method === 'delete')];
    const plans = ordered.map((op, i) => ({
      op,
      specs: fc.sample(specArb(op, extras), { seed: SEED + i, numRuns: op.body ? RUNS_BODY : RUNS_PLAIN }),
    }));

    const logLines: string[] = [];
    const errorSpy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logLines.push(args.map(String).join(' '));
    });
    setLogLevel('warn');
    const failures = new Map<string, Failure>();
    const perRoute = new Map<string, Map<number, number>>();
    let requests = 0;
    let refused = 0;
    const started = Date.now();
    let stoppedEarly = false;

    const resolve = (s: string, n = 0): string =>
      s.replace(new RegExp(`${REF}([a-z-]+):(\\d+)`, 'g'), (_m, pool: string, i: string) => {
        const list = pools.get(pool) ?? [];
        return list.length ? list[(Number(i) + n) % list.length]! : '00000000-0000-4000-8000-000000000000';
      });
    const resolveValue = (v: unknown): unknown => {
      if (typeof v === 'string') return v.startsWith(REF) ? resolve(v) : v;
      if (Array.isArray(v)) return v.map(resolveValue);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveValue(x)]));
      return v;
    };
    const harvest = (route: string, value: unknown) => {
      const collection = route.split('/')[2]!;
      const names: Record<string, string> = { model: 'models', dataset: 'datasets', extraction: 'extractions', training: 'trainings', sae: 'saes', discovery: 'discoveries', job: 'jobs' };
      if (!value || typeof value !== 'object') return;
      const v = value as Record<string, unknown>;
      if (typeof v.id === 'string' && route.split('/').length === 3) addToPool(collection, v.id);
      for (const [k, pool] of Object.entries(names)) {
        const inner = v[k] as { id?: unknown } | undefined;
        if (inner && typeof inner.id === 'string') addToPool(pool, inner.id);
      }
    };

    const record = (op: Operation, reason: string, requestId: string, repro: string, detail = '') => {
      const log = logLines.filter((l) => l.includes(requestId)).join('\n');
      // The cause: the first line of the logged error, without ids and times.
      const cause = (/error=("[^\n]*?)(?: requestId=|$)/.exec(log)?.[1] ?? log.replace(/^\S+ \S+\s+/, '').replace(/requestId=\S+/, ''))
        .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>')
        .replace(/\\n\s+at [\s\S]*/, '')
        .slice(0, 300);
      const key = `${op.method.toUpperCase()} ${op.route}: ${reason} ${cause}`;
      const f = failures.get(key);
      if (f) {
        f.count++;
        if (repro.length < f.reproSize) Object.assign(f, { repro: repro + detail, reproSize: repro.length });
      } else failures.set(key, { key, reason, count: 1, repro: repro + detail, reproSize: repro.length, log: log.slice(0, 2000) });
    };

    const send = async (op: Operation, spec: Spec, n: number) => {
      let url = spec.rawUrl ?? op.route.replace(/\{(\w+)\}/g, (_m, name: string) => resolve(spec.pathParams[name] ?? 'x', n));
      if (spec.query.length) url += `?${spec.query.map((q) => resolve(q, n)).join('&')}`;
      const requestId = `fuzz-${requests}`;
      let body: BodyInit | undefined;
      let shown = '';
      if (spec.body && 'json' in spec.body) {
        const text = JSON.stringify(resolveValue(spec.body.json));
        body = text;
        shown = text ?? '';
      } else if (spec.body && 'text' in spec.body) {
        body = spec.body.text;
        shown = JSON.stringify(spec.body.text);
      } else if (spec.body && 'bytes' in spec.body) {
        body = new Uint8Array(spec.body.bytes);
        shown = `<${spec.body.bytes.length} bytes ${Buffer.from(spec.body.bytes).toString('hex').slice(0, 80)}>`;
      } else if (spec.body && 'chunks' in spec.body) {
        const { chunks, error } = spec.body;
        body = new ReadableStream<Uint8Array>({
          pull(controller) {
            const next = chunks.shift();
            if (next) controller.enqueue(next);
            else if (error) controller.error(new Error('client went away'));
            else controller.close();
          },
        });
        shown = `<stream of ${chunks.length} chunks${error ? ', then an error' : ''}>`;
      }
      let req: Request;
      try {
        const headers = new Headers({ host: '127.0.0.1:8787', 'x-request-id': requestId, ...spec.headers });
        req = new Request(`http://127.0.0.1:8787${url}`, { method: op.method.toUpperCase(), headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
      } catch {
        refused++; // a request the Fetch API itself will not build (e.g. a URL it cannot parse)
        return;
      }
      requests++;
      const res = await t.app.fetch(req);
      const counts = perRoute.get(`${op.method.toUpperCase()} ${op.route}`) ?? new Map<number, number>();
      counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
      perRoute.set(`${op.method.toUpperCase()} ${op.route}`, counts);
      const repro = `${op.method.toUpperCase()} ${url} [${spec.kind}] content-type=${spec.headers['content-type'] ?? '(none)'} body=${shown.length > 600 ? `${shown.slice(0, 600)}… (${shown.length} chars)` : shown}`;
      const text = await res.text();
      let parsed: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      if (res.status >= 500 && !(op.documented5xx.has(res.status) && parsed?.error?.code !== 'internal')) {
        record(op, `status ${res.status} (${String(parsed?.error?.code)})`, requestId, repro);
        return;
      }
      if (res.status >= 400) {
        if (typeof parsed?.error?.code !== 'string' || typeof parsed.error.message !== 'string') {
          record(op, `status ${res.status} without a JSON error body: ${text.slice(0, 100)}`, requestId, repro);
          return;
        }
        if (res.status === 400 && parsed.error.code === 'invalid_request') {
          const details = parsed.error.details;
          const named = Array.isArray(details) && details.length > 0 && details.every((d) => typeof (d as { field?: unknown }).field === 'string' && (d as { field: string }).field.length > 0);
          if (!named) record(op, '400 invalid_request whose details do not name a field', requestId, repro, `\n  details: ${JSON.stringify(details)?.slice(0, 300)}`);
        }
      } else if (res.status < 300 && text && (res.headers.get('content-type') ?? '').includes('json')) {
        try {
          harvest(op.route, JSON.parse(text));
        } catch {
          /* a 2xx that is not JSON is fine here */
        }
      }
    };

    try {
      outer: for (const { op, specs } of plans) {
        for (let n = 0; n < specs.length; n++) {
          if (Date.now() - started > BUDGET_MS) {
            stoppedEarly = true;
            break outer;
          }
          await send(op, specs[n]!, n);
        }
      }
      // Targeted cases: uploads (streamed, empty, multipart, over the limit, lying about their size), bodies over
      // the JSON limit, unknown routes and methods, odd Host and Origin headers.
      const byRoute = (method: string, route: string): Operation => ops.find((o) => o.method === method && o.route === route) ?? { method, route, params: [], documented5xx: new Set() };
      const upload = byRoute('post', '/api/datasets/upload');
      const models = byRoute('post', '/api/models');
      const spec = (o: Partial<Spec>): Spec => ({ kind: 'targeted', pathParams: {}, query: [], headers: {}, ...o });
      const bytes = (text: string) => new TextEncoder().encode(text);
      const octet = { 'content-type': 'application/octet-stream' };
      const hugeJson = JSON.stringify({ source: { kind: 'hub', repo: 'a/b' }, name: 'n'.repeat(1_100_000) });
      const targeted: [Operation, Spec][] = [
        [upload, spec({ query: ['filename=a.txt'], headers: octet })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { bytes: new Uint8Array() } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: [] } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: [bytes('hello '), bytes('world\n')] } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: [bytes('hello '), bytes('world\n')], error: true } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: Array.from({ length: 10 }, () => bytes('x'.repeat(1000))) } })],
        [upload, spec({ query: ['filename=a.zip'], headers: octet, body: { chunks: [bytes('PK\u0003\u0004'), new Uint8Array(300)] } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: { text: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--x--\r\n' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: { text: '--y\r\ngarbage without a boundary' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { 'content-type': 'multipart/form-data' }, body: { text: '' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename="doc.txt"' }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': "attachment; filename*=UTF-8''%E2%82%AC.txt" }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': "attachment; filename*=UTF-8''%ED%A0%80.txt" }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': "attachment; filename*=UTF-8''%00.txt" }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename="../../etc/passwd.txt"' }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename=' }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename="' }, body: { text: 'hi' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { ...octet, 'content-length': '99999999999' }, body: { text: 'hi' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { ...octet, 'content-length': '-1' }, body: { text: 'hi' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { ...octet, 'content-length': 'abc' }, body: { text: 'hi' } })],
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { text: hugeJson } })],
        // deep nesting in a body well under the limit (100-300 KB): a recursive walk of the value must not run out of
        // stack (a cold walk overflows from about 3,500 levels, a JIT-compiled one deeper)
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { text: '['.repeat(50_000) + ']'.repeat(50_000) } })],
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { text: `{"source":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_001)}` } })],
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { chunks: Array.from({ length: 12 }, () => bytes(' '.repeat(100_000))) } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'content-length': '5' }, body: { text: '{"source":{"kind":"hub","repo":"a/b"}}' } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'content-length': '99999999' }, body: { text: '{}' } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: { text: '{}' } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'x-request-id': 'r'.repeat(10_000) }, body: { text: '{}' } })],
        ...['/api/nope', '/api', '/api/', '/api/models/', '//api//models', '/api/models/%ZZ/architecture', '/api/models/%ED%A0%80', '/api/%00', '/api/models?%ZZ', '/api/features/a:b:c'].map(
          (u): [Operation, Spec] => [byRoute('get', u.split('?')[0]!), spec({ rawUrl: u })],
        ),
        ...['put', 'patch', 'head', 'options'].map((m): [Operation, Spec] => [byRoute(m, '/api/models'), spec({ rawUrl: '/api/models' })]),
        ...['', 'evil.example', '127.0.0.1:99999', '[::1', 'a b', 'localhost.', 'LOCALHOST:8787', '0.0.0.0', '[::1]:8787', '127.0.0.1:8787, evil.example', 'é'].map(
          (host): [Operation, Spec] => [byRoute('get', '/api/models'), spec({ rawUrl: '/api/models', headers: { host } })],
        ),
        ...['null', 'http://evil.example', 'http://127.0.0.1:1', 'garbage', ''].map((origin): [Operation, Spec] => [
          byRoute('post', '/api/models'),
          spec({ rawUrl: '/api/models', headers: { origin, 'content-type': 'application/json' }, body: { text: '{}' } }),
        ]),
      ];
      for (const [op, s] of targeted) await send(op, s, 0);

      // The process is up and answering.
      const health = await t.request('/api/health');
      expect(health.status).toBe(200);
      expect((await t.request('/api/models')).status).toBe(200);
    } finally {
      errorSpy.mockRestore();
      setLogLevel('info');
    }

    const ms = Date.now() - started;
    const table = [...perRoute].map(([route, counts]) => `${route.padEnd(44)} ${[...counts].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}×${c}`).join(' ')}`);
    console.log(`route fuzzer: ${requests} requests (${refused} not buildable) over ${perRoute.size} operations in ${ms} ms${stoppedEarly ? ' (time budget reached)' : ''}\n${table.join('\n')}`);
    const report = [...failures.values()].map((f) => `${f.key} (${f.count}×)\n  repro: ${f.repro}\n  log: ${f.log.split('\n')[0]?.slice(0, 800)}`);
    if (report.length) console.log(`route fuzzer: ${failures.size} distinct failures\n${report.join('\n\n')}`);
    expect(report, report.join('\n\n')).toEqual([]);
    expect(requests).toBeGreaterThan(2500);
    // every operation of the document was reached
    expect(ops.filter((o) => !perRoute.has(`${o.method.toUpperCase()} ${o.route}`)).map((o) => `${o.method} ${o.route}`)).toEqual([]);
  }, 150_000);
});
