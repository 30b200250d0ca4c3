import { describe, expect, it } from 'vitest';
import { f16ToFloat32 } from './safetensors.ts';
import { float32ToF16, logitAgreement, quantizeQ4, quantizeQ8, Q4_BLOCK, transpose, weightBytes } from './quantize.ts';

function random(n: number, seed = 1): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return out;
}

describe('float32ToF16', () => {
  it('gives the IEEE half bit patterns of known values, rounding to nearest even', () => {
    const values = Float32Array.from([0, -0, 1, -2, 0.5, 65504, 65520, 1e-8, 6.103515625e-5, 5.960464477539063e-8, Infinity, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    expect(Array.from(float32ToF16(values))).toEqual([
      0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00, 0x0000, 0x0400, 0x0001, 0x7c00,
      0x3c00 /* tie → even */, 0x3c02 /* tie → even (up) */,
    ]);
    expect(float32ToF16(Float32Array.of(NaN))[0]! & 0x7c00).toBe(0x7c00);
  });

  it('round-trips through the decoder within half a unit in the last place', () => {
    const x = random(10000, 7).map((v) => v * 100);
    const back = f16ToFloat32(float32ToF16(x));
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11 + 1e-7);
  });
});

describe('int8 per-channel and 4-bit blocks', () => {
  const outF = 5;
  const inF = 70; // not a multiple of the block size: the last block is padded
  const w = random(outF * inF, 3);

  it('q8 dequantizes (q · scale, as [in, out]) within half a step of each channel', () => {
    const { q, scale } = quantizeQ8(w, outF, inF);
    for (let o = 0; o < outF; o++) {
      let max = 0;
      for (let i = 0; i < inF; i++) max = Math.max(max, Math.abs(w[o * inF + i]!));
      expect(scale[o]).toBeCloseTo(max / 127, 9);
      for (let i = 0; i < inF; i++) expect(Math.abs(q[i * outF + o]! * scale[o]! - w[o * inF + i]!)).toBeLessThanOrEqual(scale[o]! / 2 + 1e-9);
    }
  });

  it('q4 packs nibbles and zero points as MatMulNBits reads them, within half a step', () => {
    const { packed, scales, zeroPoints, blocks } = quantizeQ4(w, outF, inF);
    expect(blocks).toBe(Math.ceil(inF / Q4_BLOCK));
    expect(packed.length).toBe(outF * blocks * 16);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        const b = Math.floor(i / Q4_BLOCK);
        const j = i % Q4_BLOCK;
        const byte = packed[(o * blocks + b) * 16 + (j >> 1)]!;
        const q = j & 1 ? byte >> 4 : byte & 15;
        const zb = zeroPoints[o * Math.ceil(blocks / 2) + (b >> 1)]!;
        const zp = b & 1 ? zb >> 4 : zb & 15;
        const s = scales[o * blocks + b]!;
        expect(Math.abs((q - zp) * s - w[o * inF + i]!)).toBeLessThanOrEqual(s / 2 + 1e-7);
      }
    }
    expect(weightBytes('q4', outF, inF)).toBe(packed.length + scales.byteLength + zeroPoints.length);
  });

  it('transposes', () => {
    const m = Float32Array.from({ length: 6 }, (_, i) => i); // [[0,1,2],[3,4,5]]
    expect(Array.from(transpose(m, 2, 3))).toEqual([0, 3, 1, 4, 2, 5]);
  });
});

describe('logitAgreement', () => {
  it('is 1 and 0 for identical logits and matches a direct KL for two positions', () => {
    const ref = Float32Array.from([1, 2, 3, 0, 0, 5]);
    expect(logitAgreement(ref, ref, 3)).toEqual({ top1: 1, meanKl: 0, positions: 2 });
    const test = Float32Array.from([3, 2, 1, 0, 0, 5]);
    const p = (l: number[]) => l.map((x) => Math.exp(x) / l.reduce((a, y) => a + Math.exp(y), 0));
    const kl = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * Math.log(x / b[i]!), 0);
    const want = kl(p([1, 2, 3]), p([3, 2, 1])) / 2;
    const got = logitAgreement(ref, test, 3);
    expect(got.top1).toBe(0.5);
    expect(got.meanKl).toBeCloseTo(want, 10);
  });
});
