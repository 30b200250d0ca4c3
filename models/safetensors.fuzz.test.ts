/**
 * The safetensors fuzzer: a small valid file of every dtype, and generated
 * headers of any tensors, mutated with a fixed seed (bytes flipped, cut or
 * inserted, in the header most of all; the header length set to lies such as
 * 2^53 and 2^64-1; header JSON values swapped, dropped or duplicated), then
 * opened and read in full. Each case must read, or throw SafetensorsError
 * with a message, in time and without a giant allocation (the rules of a case:
 * scripts/testing/fuzz/cases.ts); a lying length is refused from its 8 bytes,
 * before anything of its size exists.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { caseDirs, FUZZ_SEED, ParserFuzz } from '../scripts/testing/fuzz/cases.ts';
import { applyBytes, applyJson, byteMutation, jsonMutation, type ByteMutation, type JsonMutation } from '../scripts/testing/fuzz/mutations.ts';
import { openSafetensors, parseHeader, SafetensorsError, toFloat32, writeSafetensors, type Dtype } from './safetensors.ts';

const cases = caseDirs('loupe-safetensors-fuzz-');
afterAll(cases.remove);

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
    const dir = cases.next();
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
    const sampled = fc.sample(arb, { seed: FUZZ_SEED, numRuns: 700 });
    const fuzz = new ParserFuzz('safetensors', 'safetensors', (e) => e instanceof SafetensorsError);
    for (const c of sampled) {
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
      const f = path.join(dir, `c${fuzz.counts.cases}.safetensors`);
      writeFileSync(f, file);
      await fuzz.case(what, () => readAll(f));
      rmSync(f);
    }
    // parseHeader alone, on JSON text that is not what a writer makes
    for (const text of ['', 'null', '[]', '"x"', '{"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}}', '{"a":{"dtype":"F32","shape":[9007199254740991,9007199254740991],"data_offsets":[0,4]}}', '{"a":{"dtype":"F32","shape":[0,9007199254740993],"data_offsets":[0,0]}}', '{"a":{"dtype":"__proto__","shape":[],"data_offsets":[0,4]}}', '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', '{"__metadata__":{"__proto__":"x"}}', '{"a":null}', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}']) {
      await fuzz.case(`parseHeader ${text}`, async () => parseHeader('h.safetensors', text, text.length, 8 + text.length + 4));
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
    fuzz.expectClean({ okAbove: 0, refusedAbove: fuzz.counts.cases / 3 });
  }, 60_000);
});
