import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bf16ToFloat32, f16ToFloat32, openSafetensors, SafetensorsError, writeSafetensors } from './safetensors.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DEMO = path.join(import.meta.dirname, '..', 'demo', 'models', 'tiny-gpt2-debian-6l', 'model.safetensors');

/** A file from a header object and a data length (zero bytes). */
function craft(name: string, header: unknown, dataBytes: number, declaredLen?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const buf = Buffer.alloc(8 + json.length + dataBytes);
  buf.writeBigUInt64LE(declaredLen ?? BigInt(json.length), 0);
  json.copy(buf, 8);
  const file = path.join(dir, name);
  writeFileSync(file, buf);
  return file;
}

describe('safetensors', () => {
  it('round-trips every dtype with metadata, atomically', async () => {
    const file = path.join(dir, 'rt.safetensors');
    const tensors = {
      f32: { dtype: 'F32' as const, shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-7, -1e30]) },
      f16: { dtype: 'F16' as const, shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
      bf16: { dtype: 'BF16' as const, shape: [2], data: new Uint16Array([0x3f80, 0xc040]) },
      i64: { dtype: 'I64' as const, shape: [2], data: new BigInt64Array([-5n, 1n << 40n]) },
      i32: { dtype: 'I32' as const, shape: [1, 1], data: new Int32Array([-7]) },
      u8: { dtype: 'U8' as const, shape: [3], data: new Uint8Array([0, 128, 255]) },
      mask: { dtype: 'BOOL' as const, shape: [2], data: new Uint8Array([1, 0]) },
      empty: { dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) },
    };
    await writeSafetensors(file, tensors, { format: 'pt' });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const st = await openSafetensors(file);
    try {
      expect(st.metadata).toEqual({ format: 'pt' });
      expect([...st.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        expect(st.tensors.get(name)).toMatchObject({ dtype: t.dtype, shape: t.shape });
        expect(await st.read(name)).toEqual(t.data);
      }
      expect(Math.min(...[...st.tensors.values()].map((x) => x.offset)) % 8).toBe(0); // header padded: data starts 8-byte aligned
      await expect(st.read('nope')).rejects.toThrow(/no tensor named "nope"/);
    } finally {
      await st.close();
    }
  });

  it('decodes half and bfloat16 bits', () => {
    const f = f16ToFloat32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x7c00, 0xfc00, 0x8000]));
    expect([...f.slice(0, 5)]).toEqual([1, -2, 65504, 2 ** -24, 2 ** -14]);
    expect(f[5]).toBeCloseTo(1 / 3, 3);
    expect([f[6], f[7]]).toEqual([Infinity, -Infinity]);
    expect(Object.is(f[8], -0)).toBe(true);
    expect(Number.isNaN(f16ToFloat32(new Uint16Array([0x7e00]))[0])).toBe(true);
    expect([...bf16ToFloat32(new Uint16Array([0x3f80, 0xc040, 0x4049]))]).toEqual([1, -3, 3.140625]);
  });

  it('reads the demo model: shapes match its config, layer-norm gains near 1', async () => {
    const st = await openSafetensors(DEMO);
    try {
      expect(st.tensors.get('transformer.wte.weight')).toMatchObject({ dtype: 'F16', shape: [8192, 256] });
      expect(st.tensors.get('transformer.wpe.weight')!.shape).toEqual([512, 256]);
      expect(st.tensors.get('transformer.h.5.attn.c_attn.weight')!.shape).toEqual([256, 768]);
      const g = f16ToFloat32((await st.read('transformer.ln_f.weight')) as Uint16Array);
      expect(g.length).toBe(256);
      const mean = g.reduce((a, b) => a + b, 0) / g.length;
      expect(mean).toBeGreaterThan(0.2);
      expect(mean).toBeLessThan(5);
    } finally {
      await st.close();
    }
  });

  it('rejects malformed files with a clear error naming the file', async () => {
    const t = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
    const cases: [string, string, RegExp][] = [
      ['short', (() => { const f = path.join(dir, 'short'); writeFileSync(f, Buffer.alloc(5)); return f; })(), /too short/],
      ['huge header', craft('huge', {}, 0, 1n << 60n), /exceeds the .*-byte limit/],
      ['header past end', craft('past', {}, 0, 4096n), /past the end of the \d+-byte file/],
      ['bad json', craft('json', '{"a": [1,', 0), /not valid JSON/],
      ['array header', craft('arr', '[1,2]', 0), /not a JSON object/],
      ['unknown dtype', craft('dt', { a: t('F8', [1], [0, 1]) }, 1), /unsupported dtype "F8"/],
      ['bad shape', craft('shape', { a: t('F32', [-1], [0, 4]) }, 4), /non-negative integers/],
      ['size mismatch', craft('size', { a: t('F32', [2, 2], [0, 12]) }, 12), /needs 16 bytes but data_offsets span 12/],
      ['out of range', craft('range', { a: t('F32', [4], [0, 16]) }, 8), /past the end of the data/],
      ['overlap', craft('overlap', { a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12), /overlaps/],
      ['hole', craft('hole', { a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12), /hole of 4 bytes/],
      ['trailing bytes', craft('trail', { a: t('F32', [1], [0, 4]) }, 10), /6 bytes after the last tensor/],
      ['reversed offsets', craft('rev', { a: t('F32', [0], [4, 0]) }, 4), /0 ≤ begin ≤ end/],
      ['overflowing shape', craft('ovf', { a: t('F32', [2 ** 40, 2 ** 40], [0, 4]) }, 4), /needs .* bytes but data_offsets span 4/],
      ['bad metadata', craft('meta', { __metadata__: { a: 1 } }, 0), /__metadata__\.a must be a string/],
    ];
    for (const [what, file, pattern] of cases) {
      const err = await openSafetensors(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message, what).toMatch(pattern);
      expect((err as Error).message.startsWith(file), what).toBe(true);
    }
  });
});
