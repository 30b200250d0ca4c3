/**
 * The file-parser fuzzer: small valid files (made here, or fixtures) of each
 * format Loupe reads from untrusted hands — safetensors, tokenizer.json, zip,
 * parquet, CSV, a SAELens folder's cfg.json — mutated by fast-check with a
 * fixed seed (bytes flipped, overwritten, inserted, cut; length fields set to
 * lies such as 2^53 and 2^64-1; JSON values swapped for other types, dropped
 * or duplicated), then parsed. Each case must either parse or throw the
 * module's own error class with a message (SafetensorsError, TokenizerError,
 * DatasetError, SaeFormatError), within a time bound (a hang fails the case),
 * without a giant allocation (the process's array buffers stay bounded), and
 * leave nothing behind on disk when it fails. Every failure is collected and
 * reported with its mutation before the test fails.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from './datasets/csv.ts';
import { DatasetError } from './datasets/errors.ts';
import { buildZip, type ZipEntrySpec } from './datasets/fixtures/zip-writer.ts';
import { readParquetText } from './datasets/parquet.ts';
import { extractZip } from './datasets/zip.ts';
import { loadSae, SaeFormatError, saveSae } from './sae/saelens.ts';
import { openSafetensors, parseHeader, SafetensorsError, toFloat32, writeSafetensors, type Dtype } from './safetensors.ts';
import { loadTokenizer, TokenizerError } from './tokenizer.ts';

const SEED = 1_104_2025;
/** A case that takes longer than this fails (a hang, or quadratic work on a small file), ms. */
const CASE_MS = 3000;
/** Array buffers the process may hold beyond its baseline at any check, bytes: a lying length field must not be believed. */
const MAX_BUFFER_GROWTH = 512 * 1024 ** 2;

const root = mkdtempSync(path.join(os.tmpdir(), 'loupe-parsers-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let caseNo = 0;
const caseDir = () => {
  const d = path.join(root, `case-${caseNo++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

// ---------------------------------------------------------------- mutations

/** One change to a file's bytes; positions are fractions of the length, so one mutation fits any file. */
type ByteMutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'set'; at: number; bytes: number[] }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; length: number };

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x39, 0x2d, 0x2e, 0x65];

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    bytes: fc.array(fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), length: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), length: fc.integer({ min: 1, max: 64 }) }),
);

/**
 * Applies byte mutations to `data`; `focus` (a byte range) is where the
 * positions fall, e.g. a file's header or footer, where a change matters most.
 */
function applyBytes(data: Uint8Array, ms: readonly ByteMutation[], focus?: [number, number]): Buffer {
  let b = Buffer.from(data);
  for (const m of ms) {
    const [lo, hi] = focus ? [Math.min(focus[0], b.length), Math.min(focus[1], b.length)] : [0, b.length];
    const at = lo + Math.floor(m.at * Math.max(0, hi - lo));
    switch (m.kind) {
      case 'flip':
        if (at < b.length) b[at] = b[at]! ^ m.xor;
        break;
      case 'set':
        for (let i = 0; i < m.bytes.length && at + i < b.length; i++) b[at + i] = m.bytes[i]!;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + m.length), b.subarray(at, at + m.length), b.subarray(at + m.length)]);
        break;
    }
  }
  return b;
}

/** Values a JSON field may be swapped for: other types, edges of numbers, hostile strings. */
const JSON_SWAPS: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  1.5,
  -0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  -1e308,
  '',
  '0',
  'x',
  '\u0000',
  '\ud800',
  '../../etc/passwd',
  'a'.repeat(10_000),
  [],
  [0],
  [2 ** 53, 2 ** 53],
  [-1, 1],
  [1, 2, 3],
  [[]],
  {},
  { a: 1 },
  { '': null },
  'BPE',
  'WordPiece',
  'Unigram',
  'WordLevel',
  'Sequence',
  'ByteLevel',
  'Metaspace',
  'Split',
  'Regex',
  'TemplateProcessing',
  'F32',
  'F16',
  'BF16',
  'I64',
  'BOOL',
  'U64',
  'topk',
  'jumprelu',
  'standard',
];

type JsonMutation = { kind: 'swap'; node: number; value: number } | { kind: 'delete'; node: number } | { kind: 'duplicate'; node: number } | { kind: 'wrap'; node: number };

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('swap' as const), node: fc.nat(), value: fc.nat(JSON_SWAPS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), node: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), node: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap' as const), node: fc.nat() }) },
);

/**
 * A copy of `value` with the mutations applied. Nodes are numbered in
 * walk order, skipping the children of arrays longer than `skipLong` (a
 * vocabulary or merge list) so that the structure, not its bulk, is hit.
 */
function applyJson(value: unknown, ms: readonly JsonMutation[], skipLong = 64): unknown {
  let root = structuredClone(value);
  for (const m of ms) {
    const nodes: { parent: Record<string | number, unknown> | unknown[] | null; key: string | number | null; node: unknown }[] = [];
    const walk = (node: unknown, parent: (typeof nodes)[number]['parent'], key: string | number | null) => {
      nodes.push({ parent, key, node });
      if (Array.isArray(node)) {
        if (node.length <= skipLong) node.forEach((v, i) => walk(v, node, i));
      } else if (node && typeof node === 'object') {
        const entries = Object.entries(node);
        if (entries.length <= skipLong) for (const [k, v] of entries) walk(v, node as Record<string, unknown>, k);
      }
    };
    walk(root, null, null);
    const at = nodes[m.node % nodes.length]!;
    const set = (v: unknown) => {
      if (at.parent === null) root = v;
      else (at.parent as Record<string | number, unknown>)[at.key!] = v;
    };
    switch (m.kind) {
      case 'swap':
        set(structuredClone(JSON_SWAPS[m.value]));
        break;
      case 'wrap':
        set([at.node]);
        break;
      case 'duplicate':
        if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 0, structuredClone(at.node));
        else if (at.parent) (at.parent as Record<string, unknown>)[`${String(at.key)}_copy`] = structuredClone(at.node);
        break;
      case 'delete':
        if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 1);
        else if (at.parent) delete (at.parent as Record<string, unknown>)[at.key as string];
        else root = undefined;
        break;
    }
  }
  return root;
}

// ---------------------------------------------------------------- running cases

interface CaseFailure {
  parser: string;
  what: string;
  error: string;
}

/**
 * Runs one case: `run` must resolve, or reject with an error that `expected`
 * accepts (the module's own class, with a message); not within
 * {@link CASE_MS} (an async hang is cut off by a timer; a synchronous one is
 * measured when it ends) is a failure too.
 */
async function runCase(failures: CaseFailure[], parser: string, what: string, run: () => Promise<unknown>, expected: (err: unknown) => boolean, baseline: number): Promise<'ok' | 'refused' | 'failed'> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CASE_MS} ms`)), CASE_MS);
  });
  let outcome: 'ok' | 'refused' | 'failed' = 'ok';
  try {
    await Promise.race([run(), timeout]);
  } catch (err) {
    if (expected(err) && (err as Error).message.length > 0) outcome = 'refused';
    else {
      outcome = 'failed';
      const e = err as Error;
      failures.push({ parser, what, error: `${e?.name ?? typeof err}: ${e?.message ?? String(err)}\n    ${(e?.stack ?? '').split('\n').slice(1, 4).join('\n    ')}` });
    }
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  if (outcome !== 'failed' && ms > CASE_MS) {
    outcome = 'failed';
    failures.push({ parser, what, error: `took ${Math.round(ms)} ms (over ${CASE_MS})` });
  }
  const grown = process.memoryUsage().arrayBuffers - baseline;
  if (grown > MAX_BUFFER_GROWTH) {
    outcome = 'failed';
    failures.push({ parser, what, error: `array buffers grew by ${Math.round(grown / 1024 ** 2)} MiB` });
  }
  return outcome;
}

function report(name: string, failures: CaseFailure[], counts: Record<string, number>, ms: number): string[] {
  console.log(`${name}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')} in ${Math.round(ms)} ms`);
  // One line per distinct error (its first line), with the first mutation that gave it.
  const seen = new Map<string, CaseFailure & { count: number }>();
  for (const f of failures) {
    const key = `${f.parser}: ${f.error.split('\n')[0]!.replace(/\/tmp\/\S+/g, '<file>').slice(0, 200)}`;
    const s = seen.get(key);
    if (s) s.count++;
    else seen.set(key, { ...f, count: 1 });
  }
  return [...seen].map(([key, f]) => `${key} (${f.count}×)\n  case: ${f.what.slice(0, 600)}\n  ${f.error.split('\n').slice(1).join('\n  ')}`);
}

// ---------------------------------------------------------------- safetensors

async function validSafetensors(file: string): Promise<void> {
  await writeSafetensors(
    file,
    {
      'a.weight': { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 3) },
      'b.bias': { dtype: 'F16', shape: [5], data: new Uint16Array([0x3c00, 0x4000, 0x7c00, 0xfc00, 0x7e00]) },
      c: { dtype: 'BF16', shape: [2, 1], data: new Uint16Array([0x3f80, 0xbf80]) },
      ids: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -1n]) },
      mask: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
      empty: { dtype: 'F32', shape: [0, 7], data: new Float32Array(0) },
    },
    { format: 'pt', note: 'fuzz' },
  );
}

/** Reads every tensor of a safetensors file (and converts the floating ones), closing it after. */
async function readAll(file: string): Promise<void> {
  const st = await openSafetensors(file);
  try {
    for (const [name, info] of st.tensors) {
      const data = await st.read(name);
      if (data.byteLength !== info.byteLength) throw new Error(`read ${data.byteLength} bytes of ${name}, the header says ${info.byteLength}`);
      if (['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) toFloat32(info.dtype as Dtype, data);
    }
  } finally {
    await st.close();
  }
}

const LENGTH_LIES = [0n, 1n, 2n, 7n, 8n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 100n * 1024n * 1024n, 100n * 1024n * 1024n + 1n];

describe('parser fuzzer', () => {
  it('safetensors: mutated files open and read, or throw SafetensorsError; lying lengths are refused before allocating', async () => {
    const dir = caseDir();
    const base = path.join(dir, 'base.safetensors');
    await validSafetensors(base);
    await readAll(base); // the base file itself is good
    const bytes = readFileSync(base);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as unknown;
    const data = bytes.subarray(8 + headerLen);

    type Tensor = [name: string, dtype: string, shape: number[]];
    type StCase = { kind: 'generated'; tensors: Tensor[]; metadata: Record<string, string> | null; ms: JsonMutation[] } | { kind: 'bytes'; ms: ByteMutation[]; focusHeader: boolean } | { kind: 'length'; value: bigint; ms: ByteMutation[] } | { kind: 'json'; ms: JsonMutation[]; pad: number } | { kind: 'random'; bytes: Uint8Array };
    // Well-formed headers of any tensors (empty, scalar, many dims, odd names), sometimes with one value changed.
    const tensor = fc.tuple(
      fc.oneof(fc.constantFrom('w', 'model.layers.0.weight', '', '__proto__', 'constructor', 'é', '\u0000', 'a'.repeat(300)), fc.string({ maxLength: 8 })),
      fc.constantFrom('F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'),
      fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
    );
    const generated = fc.record({
      kind: fc.constant('generated' as const),
      tensors: fc.uniqueArray(tensor, { maxLength: 5, selector: (t) => t[0] }),
      metadata: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }), { nil: null }),
      ms: fc.array(jsonMutation, { maxLength: 1 }),
    });
    const arb: fc.Arbitrary<StCase> = fc.oneof(
      { weight: 4, arbitrary: generated },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('bytes' as const), ms: fc.array(byteMutation, { minLength: 1, maxLength: 4 }), focusHeader: fc.boolean() }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('length' as const),
          value: fc.oneof(fc.constantFrom(...LENGTH_LIES, BigInt(headerLen - 1), BigInt(headerLen + 1), BigInt(bytes.length), BigInt(bytes.length - 8)), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
          ms: fc.array(byteMutation, { maxLength: 1 }),
        }),
      },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('json' as const), ms: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }), pad: fc.integer({ min: -2, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 300 }) }) },
    );
    const cases = fc.sample(arb, { seed: SEED, numRuns: 700 });
    const failures: CaseFailure[] = [];
    const counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
    const baseline = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    for (const c of cases) {
      let file: Buffer;
      let what: string;
      if (c.kind === 'generated') {
        const size: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
        const h: Record<string, unknown> = c.metadata ? { __metadata__: c.metadata } : {};
        let offset = 0;
        for (const [name, dtype, shape] of c.tensors) {
          const n = shape.reduce((a, b) => a * b, 1) * size[dtype]!;
          h[name] = { dtype, shape, data_offsets: [offset, offset + n] };
          offset += n;
        }
        const mutated = applyJson(h, c.ms);
        const json = Buffer.from(JSON.stringify(mutated) ?? '', 'utf8');
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        file = Buffer.concat([len, json, Buffer.alloc(offset, 0x3f)]);
        what = `generated ${String(JSON.stringify(mutated)).slice(0, 400)}`;
      } else if (c.kind === 'bytes') {
        file = applyBytes(bytes, c.ms, c.focusHeader ? [0, 8 + headerLen] : undefined);
        what = `bytes ${JSON.stringify(c.ms)}${c.focusHeader ? ' (in the header)' : ''}`;
      } else if (c.kind === 'length') {
        file = applyBytes(bytes, c.ms);
        if (file.length >= 8) file.writeBigUInt64LE(c.value, 0);
        what = `header length ${c.value} ${JSON.stringify(c.ms)}`;
      } else if (c.kind === 'json') {
        const mutated = applyJson(header, c.ms);
        let json = Buffer.from(JSON.stringify(mutated) ?? '', 'utf8');
        // pad: spaces after the JSON (as writers align it), or a length short of the JSON
        json = c.pad >= 0 ? Buffer.concat([json, Buffer.alloc(c.pad, 0x20)]) : json.subarray(0, json.length + c.pad);
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        file = Buffer.concat([len, json, data]);
        what = `header ${String(JSON.stringify(mutated)).slice(0, 400)}`;
      } else {
        file = Buffer.from(c.bytes);
        what = `random ${file.toString('hex').slice(0, 80)}`;
      }
      const f = path.join(dir, `c${counts.cases}.safetensors`);
      writeFileSync(f, file);
      counts.cases++;
      counts[await runCase(failures, 'safetensors', what, () => readAll(f), (e) => e instanceof SafetensorsError, baseline)]++;
      rmSync(f);
    }
    // parseHeader alone, on JSON text that is not what a writer makes
    for (const text of ['', 'null', '[]', '"x"', '{"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}}', '{"a":{"dtype":"F32","shape":[9007199254740991,9007199254740991],"data_offsets":[0,4]}}', '{"a":{"dtype":"F32","shape":[0,9007199254740993],"data_offsets":[0,0]}}', '{"a":{"dtype":"__proto__","shape":[],"data_offsets":[0,4]}}', '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', '{"__metadata__":{"__proto__":"x"}}', '{"a":null}', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}']) {
      counts.cases++;
      counts[await runCase(failures, 'safetensors', `parseHeader ${text}`, async () => parseHeader('h.safetensors', text, text.length, 8 + text.length + 4), (e) => e instanceof SafetensorsError, baseline)]++;
    }
    // A header length of 2^53 (or any past the limit or the file) is refused from the 8 bytes alone, before a buffer of that size exists.
    for (const lie of [2n ** 53n, 2n ** 64n - 1n, 100n * 1024n * 1024n + 1n, BigInt(bytes.length)]) {
      const f = path.join(dir, 'lie.safetensors');
      const file = Buffer.from(bytes);
      file.writeBigUInt64LE(lie, 0);
      writeFileSync(f, file);
      const before = performance.now();
      const err = await openSafetensors(f).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, String(lie)).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message).toMatch(/exceeds the .*limit|past the end/);
      expect(performance.now() - before).toBeLessThan(1000);
    }
    const found = report('safetensors', failures, counts, performance.now() - started);
    expect(found, found.join('\n\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(counts.cases / 3);
  }, 60_000);

  // -------------------------------------------------------------- tokenizer.json

  it('tokenizer.json: mutated tokenizers load and encode, decode and show tokens, or throw TokenizerError at load', async () => {
    const llama = JSON.parse(readFileSync(path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'llama-tiny', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const llamaConfig = readFileSync(path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'llama-tiny', 'tokenizer_config.json'), 'utf8');
    // A tiny byte-level BPE (GPT-2 style): the 256 byte symbols, a few merges, <|endoftext|>.
    const byteSymbols: string[] = [];
    {
      const printable: number[] = [];
      for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
      for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
      for (let b = 0xae; b <= 0xff; b++) printable.push(b);
      let n = 0;
      for (let b = 0; b < 256; b++) byteSymbols[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + n++);
    }
    const vocab: Record<string, number> = Object.fromEntries(byteSymbols.map((s, i) => [s, i]));
    const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n']];
    for (const [a, b] of merges) vocab[a! + b!] = Object.keys(vocab).length;
    vocab['<|endoftext|>'] = Object.keys(vocab).length;
    const gpt2 = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [vocab['<|endoftext|>']], tokens: ['<|endoftext|>'] } } },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
    };
    const TEXTS = ['Hello world', 'the thin thing', '', ' ', '\u0000', 'a\ud800b', '😀 日本語 e\u0301', '<s> </s> <|endoftext|>', 'x'.repeat(2000), '\n\n\t'];
    const exercise = async (dir: string) => {
      const tok = await loadTokenizer(dir);
      for (const text of TEXTS) {
        const ids = tok.encode(text);
        tok.encode(text, { addBos: true, addEos: true });
        tok.decode(ids);
        tok.decode(ids, { skipSpecial: true });
        tok.tokenStrings(ids);
      }
      const odd = [-1, 0, 1, tok.vocabSize - 1, tok.vocabSize, tok.vocabSize + 1000, 2 ** 31, 0.5, NaN];
      tok.decode(odd);
      tok.tokenStrings(odd);
      for (const id of odd) {
        tok.idToToken(id);
        tok.isSpecial(id);
      }
      tok.encodeBatch(TEXTS.slice(0, 3));
    };
    // Both bases work before they are mutated.
    for (const [name, json] of [['llama', llama], ['gpt2', gpt2]] as const) {
      const d = caseDir();
      writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(json));
      if (name === 'llama') writeFileSync(path.join(d, 'tokenizer_config.json'), llamaConfig);
      await exercise(d);
    }

    type TokCase = { base: 'llama' | 'gpt2'; kind: 'json'; ms: JsonMutation[] } | { base: 'llama' | 'gpt2'; kind: 'bytes'; ms: ByteMutation[] } | { base: 'llama' | 'gpt2'; kind: 'config'; ms: JsonMutation[] };
    const arb: fc.Arbitrary<TokCase> = fc.record({
      base: fc.constantFrom('llama' as const, 'gpt2' as const),
      kind: fc.constantFrom('json' as const, 'json' as const, 'json' as const, 'bytes' as const, 'config' as const),
      ms: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
      bms: fc.array(byteMutation, { minLength: 1, maxLength: 3 }),
    }).map((r) => (r.kind === 'bytes' ? { base: r.base, kind: 'bytes', ms: r.bms } : { base: r.base, kind: r.kind, ms: r.ms }) as TokCase);
    const cases = fc.sample(arb, { seed: SEED + 1, numRuns: 600 });
    const failures: CaseFailure[] = [];
    const counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
    const baseline = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    for (const c of cases) {
      const d = caseDir();
      const base = c.base === 'llama' ? llama : gpt2;
      let what: string;
      let text: Buffer;
      let config = c.base === 'llama' ? llamaConfig : undefined;
      if (c.kind === 'json') {
        const mutated = applyJson(base, c.ms);
        text = Buffer.from(JSON.stringify(mutated) ?? '');
        what = `${c.base} tokenizer.json with ${JSON.stringify(c.ms)}: ${String(JSON.stringify(mutated, (k, v: unknown) => (k === 'vocab' || k === 'merges' ? '…' : v))).slice(0, 500)}`;
      } else if (c.kind === 'bytes') {
        text = applyBytes(Buffer.from(JSON.stringify(base)), c.ms);
        what = `${c.base} tokenizer.json bytes ${JSON.stringify(c.ms)}`;
      } else {
        text = Buffer.from(JSON.stringify(base));
        config = JSON.stringify(applyJson({ add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: { content: '</s>' }, pad_token: null, unk_token: '<unk>', clean_up_tokenization_spaces: false, model_max_length: 2048 }, c.ms));
        what = `${c.base} tokenizer_config.json ${config}`;
      }
      writeFileSync(path.join(d, 'tokenizer.json'), text);
      if (config !== undefined) writeFileSync(path.join(d, 'tokenizer_config.json'), config);
      counts.cases++;
      counts[await runCase(failures, 'tokenizer', what, () => exercise(d), (e) => e instanceof TokenizerError, baseline)]++;
      rmSync(d, { recursive: true, force: true });
    }
    const found = report('tokenizer.json', failures, counts, performance.now() - started);
    expect(found, found.join('\n\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  }, 60_000);

  // -------------------------------------------------------------- zip

  it('zip: generated and mutated archives extract, or are refused with DatasetError leaving nothing behind', async () => {
    const NAMES = ['a.txt', 'data/b.jsonl', 'c.csv', 'd.parquet', 'e.zip', 'img.png', 'dir/', '../evil.txt', '/abs.txt', 'C:/x.txt', 'a\\b.txt', 'a/./b.txt', 'a//b.txt', 'A.TXT', 'a.txt', 'e\u0301.txt', 'é.txt', 'x'.repeat(1100), `${'d/'.repeat(40)}f.txt`, 'ctl\u0001.txt', '', 'dir'];
    const entry: fc.Arbitrary<ZipEntrySpec> = fc
      .record(
        {
          name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) }),
          data: fc.oneof(fc.constantFrom('{"text": "fine"}\n', 'hello\n\nworld\n', 'id,text\n1,"a"\n', ''), fc.string({ maxLength: 200 }), fc.constant('z'.repeat(20_000))),
          method: fc.constantFrom(0, 8, 8, 8, 12, 99),
          flags: fc.constantFrom(0x800, 0x800, 0x801, 0, 0x808),
          declaredSize: fc.option(fc.constantFrom(0, 1, 5, 2 ** 31, 2 ** 32 - 1, 0xffffffff), { nil: undefined, freq: 4 }),
          declaredCompressedSize: fc.option(fc.constantFrom(0, 1, 2 ** 32 - 1), { nil: undefined, freq: 5 }),
          externalAttributes: fc.option(fc.constantFrom(0o100644 << 16, 0o120777 << 16, 0o040755 << 16, 0o010644 << 16, 0xffffffff), { nil: undefined, freq: 3 }),
        },
        { requiredKeys: ['name', 'data'] },
      )
      .map((e) => (e.externalAttributes !== undefined ? { ...e, externalAttributes: e.externalAttributes >>> 0 } : e));
    type ZipCase = { entries: ZipEntrySpec[]; declaredEntryCount?: number; ms: ByteMutation[]; focusTail: boolean };
    const arb: fc.Arbitrary<ZipCase> = fc.record({
      entries: fc.array(entry, { minLength: 0, maxLength: 4 }),
      declaredEntryCount: fc.option(fc.constantFrom(0, 1, 7, 65535), { nil: undefined, freq: 6 }),
      ms: fc.oneof({ weight: 2, arbitrary: fc.constant<ByteMutation[]>([]) }, { weight: 3, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) }),
      focusTail: fc.boolean(),
    });
    const cases = fc.sample(arb, { seed: SEED + 2, numRuns: 600 });
    const failures: CaseFailure[] = [];
    const counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
    const baseline = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    for (const c of cases) {
      const d = caseDir();
      const zipped = buildZip(c.entries, c.declaredEntryCount === undefined ? {} : { declaredEntryCount: c.declaredEntryCount });
      // the central directory and its end record are at the tail
      const file = applyBytes(zipped, c.ms, c.focusTail ? [Math.max(0, zipped.length - 120), zipped.length] : undefined);
      const zipPath = path.join(d, 'in.zip');
      writeFileSync(zipPath, file);
      const outParent = path.join(d, 'out');
      const dest = path.join(outParent, 'files');
      const what = `entries ${JSON.stringify(c.entries.map((e) => ({ ...e, data: typeof e.data === 'string' && e.data.length > 40 ? `${e.data.slice(0, 10)}…(${e.data.length})` : e.data })))} count ${c.declaredEntryCount ?? '-'} bytes ${JSON.stringify(c.ms)}${c.focusTail ? ' (tail)' : ''}`;
      counts.cases++;
      const outcome = await runCase(
        failures,
        'zip',
        what,
        async () => {
          try {
            return await extractZip(zipPath, dest, { maxTotalBytes: 1024 * 1024, ratioGraceBytes: 4096 });
          } catch (err) {
            // Nothing partial stays: no destination, no temporary folder beside it.
            const left = existsSync(outParent) ? readdirSync(outParent) : [];
            if (left.length) throw new Error(`left behind after a refusal: ${left.join(', ')} (${(err as Error).message})`);
            throw err;
          }
        },
        (e) => e instanceof DatasetError,
        baseline,
      );
      counts[outcome]++;
      rmSync(d, { recursive: true, force: true });
    }
    const found = report('zip', failures, counts, performance.now() - started);
    expect(found, found.join('\n\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  }, 60_000);

  // -------------------------------------------------------------- parquet

  it('parquet: mutated files yield their text column, or throw DatasetError', async () => {
    const fixtures = ['tiny-snappy.parquet', 'tiny-gzip-plain.parquet', 'demo-120-zstd.parquet'].map((f) => readFileSync(path.join(import.meta.dirname, 'datasets', 'fixtures', f)));
    type PqCase = { base: number; ms: ByteMutation[]; focus: 'footer' | 'any' | 'length'; footerLength: number; column: string };
    const arb: fc.Arbitrary<PqCase> = fc.record({
      base: fc.constantFrom(0, 0, 1, 1, 2),
      ms: fc.array(byteMutation, { minLength: 1, maxLength: 3 }),
      focus: fc.constantFrom('footer' as const, 'footer' as const, 'any' as const, 'length' as const),
      footerLength: fc.constantFrom(0, 1, 12, 2 ** 31 - 1, 2 ** 32 - 1),
      column: fc.constantFrom('text', 'text', 'text', 'id', 'nope', ''),
    });
    const cases = fc.sample(arb, { seed: SEED + 3, numRuns: 800 });
    const failures: CaseFailure[] = [];
    const counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
    const baseline = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const dir = caseDir();
    for (const c of cases) {
      const bytes = fixtures[c.base]!;
      const footer = bytes.readUInt32LE(bytes.length - 8);
      let file: Buffer;
      if (c.focus === 'length') {
        file = Buffer.from(bytes);
        file.writeUInt32LE(c.footerLength >>> 0, file.length - 8);
      } else file = applyBytes(bytes, c.ms, c.focus === 'footer' ? [bytes.length - 8 - footer, bytes.length] : undefined);
      const f = path.join(dir, `c${counts.cases}.parquet`);
      writeFileSync(f, file);
      const what = `fixture ${c.base} column ${JSON.stringify(c.column)} ${c.focus === 'length' ? `footer length ${c.footerLength}` : `bytes ${JSON.stringify(c.ms)} (${c.focus})`}`;
      counts.cases++;
      counts[
        await runCase(
          failures,
          'parquet',
          what,
          async () => {
            let rows = 0;
            for await (const v of readParquetText(f, { textColumn: c.column, maxChunkBytes: 64 * 1024 ** 2 })) {
              if (v.text !== null && typeof v.text !== 'string') throw new Error(`row ${v.row}: text is ${typeof v.text}`);
              if (++rows > 1_000_000) throw new Error('more than a million rows from a small file');
            }
          },
          (e) => e instanceof DatasetError,
          baseline,
        )
      ]++;
      rmSync(f);
    }
    const found = report('parquet', failures, counts, performance.now() - started);
    expect(found, found.join('\n\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  }, 60_000);

  // -------------------------------------------------------------- CSV

  it('CSV: any text in any chunking parses or throws DatasetError; quoted records round-trip', async () => {
    const failures: CaseFailure[] = [];
    const counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
    const baseline = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const chunked = (text: string, cuts: number[]) => {
      const points = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b);
      const parts: string[] = [];
      let last = 0;
      for (const p of points) {
        parts.push(text.slice(last, p));
        last = p;
      }
      parts.push(text.slice(last));
      return (async function* () {
        yield* parts;
      })();
    };
    const text = fc.oneof(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', '\t', ';', 'é', '\u0000', '\ud800'), maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
    const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });
    for (const [t, cs, delimiter, max] of fc.sample(fc.tuple(text, cuts, fc.constantFrom(',', '\t', ';', '|'), fc.constantFrom(undefined, 5, 40)), { seed: SEED + 4, numRuns: 400 })) {
      counts.cases++;
      counts[
        await runCase(
          failures,
          'csv',
          `${JSON.stringify(t)} cut at ${JSON.stringify(cs)} delimiter ${JSON.stringify(delimiter)} max ${max}`,
          async () => {
            for await (const r of parseCsv(chunked(t, cs), { delimiter, ...(max ? { maxRecordChars: max } : {}) })) {
              if (!Array.isArray(r.fields) || !(r.line >= 1)) throw new Error(`bad record ${JSON.stringify(r)}`);
              // (the record bound is checked as a record grows and at chunk ends: a record may pass it by one chunk's worth)
            }
          },
          (e) => e instanceof DatasetError,
          baseline,
        )
      ]++;
    }
    // Records written the RFC 4180 way come back as they were, however the text is cut.
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'é'), maxLength: 8 });
    const records = fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 });
    for (const [recs, cs, crlf] of fc.sample(fc.tuple(records, cuts, fc.boolean()), { seed: SEED + 5, numRuns: 300 })) {
      // a record of one empty field is an empty line, which a reader cannot tell from no record: quote it
      const quote = (f: string, only: boolean) => (/[",\r\n]/.test(f) || (only && f === '') ? `"${f.replace(/"/g, '""')}"` : f);
      const written = recs.map((r) => r.map((f) => quote(f, r.length === 1)).join(',')).join(crlf ? '\r\n' : '\n');
      counts.cases++;
      counts[
        await runCase(
          failures,
          'csv round trip',
          `${JSON.stringify(recs)} written ${JSON.stringify(written)} cut at ${JSON.stringify(cs)}`,
          async () => {
            const back: string[][] = [];
            for await (const r of parseCsv(chunked(written, cs))) back.push(r.fields);
            if (JSON.stringify(back) !== JSON.stringify(recs)) throw new Error(`read back ${JSON.stringify(back)}`);
          },
          () => false,
          baseline,
        )
      ]++;
    }
    const found = report('csv', failures, counts, performance.now() - started);
    expect(found, found.join('\n\n')).toEqual([]);
  }, 60_000);

  // -------------------------------------------------------------- SAELens folders

  it('SAELens: mutated cfg.json and weights load with a sane config, or throw SaeFormatError / SafetensorsError', async () => {
    const base = caseDir();
    const dIn = 8;
    const dSae = 16;
    const w = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    await saveSae(base, { architecture: 'jumprelu', dIn, dSae, k: null, hookName: 'blocks.1.hook_resid_post', hookLayer: 1, modelName: 'tiny', contextSize: 16, prependBos: true, normalizeActivations: 'none', extra: {} }, {
      W_enc: w(dIn * dSae),
      b_enc: w(dSae),
      W_dec: w(dSae * dIn),
      b_dec: w(dIn),
      threshold: w(dSae),
    });
    const topk = caseDir();
    await saveSae(topk, { architecture: 'topk', dIn, dSae, k: 4, hookName: 'blocks.1.hook_resid_post', hookLayer: 1, modelName: 'tiny', contextSize: 16, prependBos: true, normalizeActivations: 'none', extra: {} }, { W_enc: w(dIn * dSae), b_enc: w(dSae), W_dec: w(dSae * dIn), b_dec: w(dIn) });
    const bases = [base, topk].map((d) => ({ cfg: JSON.parse(readFileSync(path.join(d, 'cfg.json'), 'utf8')) as unknown, weights: readFileSync(path.join(d, 'sae_weights.safetensors')) }));
    for (const d of [base, topk]) await loadSae(d);

    // The fields SAELens' readers (and ours) act on, each set to another value.
    const KEYS = ['k', 'd_in', 'd_sae', 'hook_name', 'hook_layer', 'context_size', 'architecture', 'activation_fn_str', 'activation_fn_kwargs', 'normalize_activations', 'prepend_bos', 'model_name', 'metadata', 'dtype'];
    type SaeCase = { base: number; kind: 'cfg'; ms: JsonMutation[] } | { base: number; kind: 'field'; fields: [string, number, boolean][] } | { base: number; kind: 'cfg-bytes'; bms: ByteMutation[] } | { base: number; kind: 'weights'; bms: ByteMutation[] };
    const arb: fc.Arbitrary<SaeCase> = fc
      .record({
        base: fc.constantFrom(0, 1),
        kind: fc.constantFrom('cfg' as const, 'cfg' as const, 'field' as const, 'field' as const, 'cfg-bytes' as const, 'weights' as const),
        ms: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
        fields: fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.nat(JSON_SWAPS.length - 1), fc.boolean()), { minLength: 1, maxLength: 2 }),
        bms: fc.array(byteMutation, { minLength: 1, maxLength: 3 }),
      })
      .map((r) => (r.kind === 'cfg' ? { base: r.base, kind: 'cfg', ms: r.ms } : r.kind === 'field' ? { base: r.base, kind: 'field', fields: r.fields } : { base: r.base, kind: r.kind, bms: r.bms }) as SaeCase);
    const cases = fc.sample(arb, { seed: SEED + 6, numRuns: 600 });
    const failures: CaseFailure[] = [];
    const counts = { cases: 0, ok: 0, refused: 0, failed: 0 };
    const baseline = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    for (const c of cases) {
      const d = caseDir();
      const b = bases[c.base]!;
      let cfgText = JSON.stringify(b.cfg);
      let weights: Buffer = b.weights;
      let what: string;
      if (c.kind === 'cfg') {
        cfgText = JSON.stringify(applyJson(b.cfg, c.ms)) ?? '';
        what = `cfg.json ${cfgText}`;
      } else if (c.kind === 'field') {
        const cfg = structuredClone(b.cfg) as Record<string, unknown> & { metadata: Record<string, unknown> };
        // at the top level, or in SAELens 6's metadata (where the top-level copy is then removed)
        for (const [key, value, inMetadata] of c.fields) {
          if (inMetadata && cfg.metadata && typeof cfg.metadata === 'object') {
            cfg.metadata[key] = structuredClone(JSON_SWAPS[value]);
            delete cfg[key];
          } else cfg[key] = structuredClone(JSON_SWAPS[value]);
        }
        cfgText = JSON.stringify(cfg);
        what = `cfg.json ${cfgText}`;
      } else if (c.kind === 'cfg-bytes') {
        cfgText = applyBytes(Buffer.from(cfgText), c.bms).toString('utf8');
        what = `cfg.json bytes ${JSON.stringify(c.bms)}`;
      } else {
        const headerLen = Number(weights.readBigUInt64LE(0));
        weights = applyBytes(weights, c.bms, [0, 8 + headerLen]);
        what = `weights header bytes ${JSON.stringify(c.bms)}`;
      }
      writeFileSync(path.join(d, 'cfg.json'), cfgText);
      writeFileSync(path.join(d, 'sae_weights.safetensors'), weights);
      counts.cases++;
      counts[
        await runCase(
          failures,
          'saelens',
          `base ${c.base} ${what}`,
          async () => {
            const { cfg, weights: wts } = await loadSae(d);
            // What loads must be usable: positive integer sizes, k a positive integer no larger than d_sae, weights of those sizes.
            const posInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
            if (!posInt(cfg.dIn) || !posInt(cfg.dSae)) throw new Error(`loaded d_in ${cfg.dIn}, d_sae ${cfg.dSae}`);
            if (cfg.architecture === 'topk' && !(posInt(cfg.k) && cfg.k! <= cfg.dSae)) throw new Error(`loaded a topk SAE with k ${JSON.stringify(cfg.k)} (d_sae ${cfg.dSae})`);
            if (cfg.k !== null && !posInt(cfg.k)) throw new Error(`loaded k ${JSON.stringify(cfg.k)}`);
            if (cfg.hookLayer !== null && !(Number.isSafeInteger(cfg.hookLayer) && cfg.hookLayer >= 0)) throw new Error(`loaded hook layer ${JSON.stringify(cfg.hookLayer)}`);
            if (cfg.contextSize !== null && !posInt(cfg.contextSize)) throw new Error(`loaded context size ${JSON.stringify(cfg.contextSize)}`);
            if (wts.W_enc.length !== cfg.dIn * cfg.dSae || wts.b_dec.length !== cfg.dIn) throw new Error('weights of other sizes than cfg.json says');
          },
          (e) => e instanceof SaeFormatError || e instanceof SafetensorsError,
          baseline,
        )
      ]++;
      rmSync(d, { recursive: true, force: true });
    }
    const found = report('SAELens', failures, counts, performance.now() - started);
    expect(found, found.join('\n\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  }, 60_000);
});
