/**
 * The decoder searches' WGSL kernels (search-kernels.ts) through Dawn, the
 * same sources the browser compiles, against plain float64 computations on
 * the CPU: a random decoder of 1,000 × 96 rows (several chunks of a few
 * KiB, so rows straddle nothing and chunks are many), stored as float32 and
 * as halves. Row norms and dot products within 1e-5 relative; the similar
 * features, the features by token effect (the logit lens's convention, from
 * models/features/lens.ts's own lensVector) and the features of a text equal
 * the CPU search's and the reference's; a stream shorter than the decoder is
 * refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lensVector, type Unembedding } from '../../features/lens.ts';
import { float32ToF16 } from '../../quantize.ts';
import { releaseGpus, requestGpu } from './device.ts';
import { createCpuDecoderSearch, createGpuDecoderSearch, featuresByTokenEffect, featuresInText, halfToFloat, similarFeatures, topScores, type DecoderSearch } from './search.ts';

const D_SAE = 1000;
const D_IN = 96;
/** 4 KiB chunks: 10 rows of f32, 21 of halves a chunk */
const CHUNK = 4096;

function random(seed: number, n: number, scale = 1): Float32Array {
  let s = seed;
  const u = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float32Array.from({ length: n }, () => (u() * 2 - 1) * scale);
}

/** A stream of `bytes` in uneven pieces (97 bytes, then 1,000, …), as a network would hand them. */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  let n = 97;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + n));
      at += n;
      n = n === 97 ? 1000 : 97;
    },
  });
}

const asBytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function maxRel(a: Float32Array, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return m;
}

describe('decoder searches on WebGPU (Dawn)', () => {
  const W = random(1, D_SAE * D_IN, 0.5);
  const halves = halfToFloat(float32ToF16(W));
  let device: GPUDevice;
  const searches: Record<'f32' | 'f16', { gpu: DecoderSearch; cpu: DecoderSearch; rows: Float32Array }> = {} as never;

  beforeAll(async () => {
    device = (await requestGpu()).device;
    searches.f32 = { gpu: await createGpuDecoderSearch(device, { dSae: D_SAE, dIn: D_IN, type: 'f32', chunkBytes: CHUNK }, streamOf(asBytes(W))), cpu: createCpuDecoderSearch(W, D_SAE, D_IN), rows: W };
    searches.f16 = {
      gpu: await createGpuDecoderSearch(device, { dSae: D_SAE, dIn: D_IN, type: 'f16', chunkBytes: CHUNK }, streamOf(asBytes(float32ToF16(W)))),
      cpu: createCpuDecoderSearch(halves, D_SAE, D_IN, 'f16'),
      rows: halves,
    };
  }, 120_000);
  afterAll(async () => {
    for (const s of Object.values(searches)) s.gpu.release();
    await releaseGpus();
  });

  for (const type of ['f32', 'f16'] as const) {
    it(`${type}: rows, norms and dot products equal float64 sums`, async () => {
      const { gpu, rows } = searches[type];
      expect(Array.from(await gpu.row(0))).toEqual(Array.from(rows.subarray(0, D_IN)));
      expect(Array.from(await gpu.row(D_SAE - 1))).toEqual(Array.from(rows.subarray((D_SAE - 1) * D_IN)));
      const v = random(2, D_IN);
      const norms = new Float64Array(D_SAE);
      const dots = new Float64Array(D_SAE);
      for (let f = 0; f < D_SAE; f++) {
        for (let i = 0; i < D_IN; i++) {
          norms[f]! += rows[f * D_IN + i]! ** 2;
          dots[f]! += rows[f * D_IN + i]! * v[i]!;
        }
        norms[f] = Math.sqrt(norms[f]!);
      }
      expect(maxRel(await gpu.norms(), norms)).toBeLessThan(1e-5);
      expect(maxRel(await gpu.dots(v), dots)).toBeLessThan(1e-5);
    });

    it(`${type}: similar features are the CPU search's and the float64 cosines' top 10`, async () => {
      const { gpu, cpu, rows } = searches[type];
      for (const f of [0, 417, D_SAE - 1]) {
        const [g, c] = await Promise.all([similarFeatures(gpu, f, 10), similarFeatures(cpu, f, 10)]);
        const cos = new Float32Array(D_SAE);
        const norm = (x: number) => Math.sqrt(Array.from(rows.subarray(x * D_IN, (x + 1) * D_IN)).reduce((a, w) => a + w * w, 0));
        for (let h = 0; h < D_SAE; h++) {
          let s = 0;
          for (let i = 0; i < D_IN; i++) s += rows[f * D_IN + i]! * rows[h * D_IN + i]!;
          cos[h] = s / (norm(f) * norm(h));
        }
        const want = topScores(cos, 10, { skip: f });
        expect(g.map((x) => x.index)).toEqual(want.map((x) => x.index));
        expect(c.map((x) => x.index)).toEqual(want.map((x) => x.index));
        g.forEach((x, i) => expect(x.value).toBeCloseTo(want[i]!.value, 5));
      }
    });

    it(`${type}: features by token effect follow the logit lens's convention (LayerNorm centred, γ, none)`, async () => {
      const { gpu, cpu, rows } = searches[type];
      const column = random(3, D_IN);
      const gain = random(4, D_IN, 2);
      const u: Unembedding = { modelType: 'gpt2', dModel: D_IN, vocab: 1, norm: 'layer', gain, unembed: { w: column, layout: 'out_in' }, softcap: null };
      for (const [norm, convention] of [['layer', 'weight'], ['rms', 'weight'], ['layer', 'none']] as const) {
        const ref = new Float32Array(D_SAE);
        for (let f = 0; f < D_SAE; f++) {
          const v = lensVector({ ...u, norm }, rows.slice(f * D_IN, (f + 1) * D_IN), convention);
          ref[f] = v.reduce((a, x, i) => a + x * column[i]!, 0);
        }
        const lens = { norm, gain };
        const [g, c] = await Promise.all([featuresByTokenEffect(gpu, column, lens, convention, 8), featuresByTokenEffect(cpu, column, lens, convention, 8)]);
        for (const side of ['raises', 'lowers'] as const) {
          const want = topScores(ref, 8, { largest: side === 'raises' });
          expect(g[side].map((x) => x.index), `${norm} ${convention} ${side}`).toEqual(want.map((x) => x.index));
          expect(c[side].map((x) => x.index)).toEqual(want.map((x) => x.index));
          g[side].forEach((x, i) => expect(Math.abs(x.value - want[i]!.value)).toBeLessThan(1e-4));
        }
      }
    });
  }

  it('ranks the features of a text by their largest activation, with the token where each peaks', async () => {
    const T = 37;
    const acts = random(5, T * D_SAE).map((a) => (a > 0.9 ? a * 10 : 0));
    const [g, c] = await Promise.all([featuresInText(searches.f32.gpu, acts, T, 20), featuresInText(searches.f32.cpu, acts, T, 20)]);
    expect(g).toEqual(c);
    const max = new Float32Array(D_SAE);
    for (let t = 0; t < T; t++) for (let f = 0; f < D_SAE; f++) max[f] = Math.max(max[f]!, acts[t * D_SAE + f]!);
    expect(g.map((x) => x.index)).toEqual(topScores(max, 20).map((x) => x.index));
    for (const x of g) expect(acts[x.token * D_SAE + x.index]).toBe(x.value);
  });

  it('refuses a stream shorter than the decoder', async () => {
    await expect(createGpuDecoderSearch(device, { dSae: D_SAE, dIn: D_IN, type: 'f32', chunkBytes: CHUNK }, streamOf(asBytes(W.subarray(0, 5000))))).rejects.toThrow(/ended after 20000 bytes/);
  });
});
