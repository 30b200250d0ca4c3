/**
 * The logit lens (lens.ts) on every family's tiny checkpoint
 * (models/architectures/fixtures), against an independent computation in
 * float64 from the safetensors by Hugging Face parameter names:
 * `norm=none` is W_dec[f]·W_U exactly, `norm=weight` is (W_dec[f] − mean,
 * for LayerNorm families) ⊙ γ (1 + γ for Gemma) · W_U; top and bottom 20
 * token ids equal, values within 1e-4. Neither adds the final norm's bias
 * nor the unembedding's (a checkpoint given an `embed_out.bias`), and values
 * are before Gemma 2's soft-cap.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, toFloat32, writeSafetensors } from '../safetensors.ts';
import { extremes, lensLogits, logitLens, readUnembedding } from './lens.ts';

const FIXTURES = path.join(import.meta.dirname, '../architectures/fixtures');
const K = 20;

/** Each family's head by Hugging Face name: the final norm's kind and gain, and W_U (the first present; tied models have only the embedding). */
const HEADS: Record<string, { norm: 'layer' | 'rms'; gain: string; plusOne?: boolean; unembed: string[] }> = {
  gpt2: { norm: 'layer', gain: 'transformer.ln_f.weight', unembed: ['lm_head.weight', 'transformer.wte.weight'] },
  gpt_neo: { norm: 'layer', gain: 'transformer.ln_f.weight', unembed: ['lm_head.weight', 'transformer.wte.weight'] },
  gpt_neox: { norm: 'layer', gain: 'gpt_neox.final_layer_norm.weight', unembed: ['embed_out.weight'] },
  llama: { norm: 'rms', gain: 'model.norm.weight', unembed: ['lm_head.weight', 'model.embed_tokens.weight'] },
  mistral: { norm: 'rms', gain: 'model.norm.weight', unembed: ['lm_head.weight', 'model.embed_tokens.weight'] },
  qwen2: { norm: 'rms', gain: 'model.norm.weight', unembed: ['lm_head.weight', 'model.embed_tokens.weight'] },
  gemma2: { norm: 'rms', gain: 'model.norm.weight', plusOne: true, unembed: ['lm_head.weight', 'model.embed_tokens.weight'] },
  phi3: { norm: 'rms', gain: 'model.norm.weight', unembed: ['lm_head.weight', 'model.embed_tokens.weight'] },
  opt: { norm: 'layer', gain: 'model.decoder.final_layer_norm.weight', unembed: ['lm_head.weight', 'model.decoder.embed_tokens.weight'] },
};

/** A seeded direction (mulberry32), shifted so its mean is far from 0: centring matters. */
function direction(d: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float32Array.from({ length: d }, () => scale * (rand() * 2 - 1 + 0.5));
}

/** Reference values: `v` (as the formula transforms it) times every row of W_U [vocab, d], in float64. */
function reference(W: Float32Array, v: Float64Array): Float64Array {
  const d = v.length;
  const V = W.length / d;
  const out = new Float64Array(V);
  for (let t = 0; t < V; t++) for (let i = 0; i < d; i++) out[t]! += v[i]! * W[t * d + i]!;
  return out;
}

function ranked(xs: Float64Array): number[] {
  return Array.from(xs.keys()).sort((a, b) => xs[b]! - xs[a]! || a - b);
}

describe('logit lens by family, against W_dec[f]·W_U from the safetensors', () => {
  for (const [family, h] of Object.entries(HEADS)) {
    it(family, async () => {
      const dir = path.join(FIXTURES, family);
      const head = await readUnembedding(dir);
      const ck = await openSafetensors(path.join(dir, 'model.safetensors'));
      const read = async (n: string) => toFloat32(ck.tensors.get(n)!.dtype, await ck.read(n));
      const W = await read(h.unembed.find((n) => ck.tensors.has(n))!);
      const gain = Float64Array.from(await read(h.gain), (g) => (h.plusOne ? 1 + g : g));
      await ck.close();
      const d = gain.length;
      expect(head.dModel).toBe(d);
      expect(head.norm).toBe(h.norm);
      for (const seed of [1, 2, 3]) {
        const x = direction(d, seed);
        const mean = x.reduce((a, b) => a + b, 0) / d;
        const formulas = {
          none: Float64Array.from(x),
          weight: Float64Array.from(x, (v, i) => (h.norm === 'layer' ? v - mean : v) * gain[i]!),
        };
        for (const norm of ['none', 'weight'] as const) {
          const want = reference(W, formulas[norm]);
          const order = ranked(want);
          const got = logitLens(head, x, { k: K, norm });
          const what = `${family} seed ${seed} norm=${norm}`;
          expect(got.top.map((s) => s.token), what).toEqual(order.slice(0, K));
          expect(got.bottom.map((s) => s.token), what).toEqual(order.slice(-K).reverse());
          const worst = Math.max(...[...got.top, ...got.bottom].map((s) => Math.abs(s.value - want[s.token]!)));
          expect(worst, what).toBeLessThan(1e-4);
        }
      }
      // no bias of any kind: the zero direction reads zero everywhere
      expect(lensLogits(head, new Float32Array(d), 'weight').every((v) => v === 0)).toBe(true);
    });
  }

  it("gemma2: values are before the final soft-cap (a long direction's logits pass the cap's bound)", async () => {
    const head = await readUnembedding(path.join(FIXTURES, 'gemma2'));
    expect(head.softcap).toBe(3);
    const top = logitLens(head, direction(head.dModel, 7, 50), { k: 1, norm: 'weight' }).top[0]!;
    expect(top.value).toBeGreaterThan(head.softcap! * 2);
  });

  it('refuses a direction of the wrong width, naming both widths', async () => {
    const head = await readUnembedding(path.join(FIXTURES, 'gpt2'));
    expect(() => logitLens(head, new Float32Array(head.dModel + 1), { k: 5, norm: 'none' })).toThrow(`the direction has ${head.dModel + 1} values, the model ${head.dModel}`);
  });
});

describe('an untied unembedding with a bias (GPT-NeoX given embed_out.bias)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'loupe-lens-'));
    const src = path.join(FIXTURES, 'gpt_neox');
    await copyFile(path.join(src, 'config.json'), path.join(tmp, 'config.json'));
    const ck = await openSafetensors(path.join(src, 'model.safetensors'));
    const tensors: Parameters<typeof writeSafetensors>[1] = {};
    for (const [name, info] of ck.tensors) tensors[name] = { dtype: info.dtype, shape: [...info.shape], data: await ck.read(name) };
    const vocab = ck.tensors.get('embed_out.weight')!.shape[0]!;
    await ck.close();
    // a bias large enough to decide every ranking, were it added
    tensors['embed_out.bias'] = { dtype: 'F32', shape: [vocab], data: Float32Array.from({ length: vocab }, (_, t) => 100 * Math.sin(t)) };
    await writeSafetensors(path.join(tmp, 'model.safetensors'), tensors);
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('leaves the bias out: the lens equals that of the checkpoint without it', async () => {
    const withBias = await readUnembedding(tmp);
    const without = await readUnembedding(path.join(FIXTURES, 'gpt_neox'));
    const x = direction(withBias.dModel, 11);
    for (const norm of ['none', 'weight'] as const) expect(lensLogits(withBias, x, norm)).toEqual(lensLogits(without, x, norm));
  });
});

describe('extremes', () => {
  it('picks the k largest and smallest with their indices, ties to the lower index, as a full sort does', () => {
    const xs = Float32Array.from({ length: 1000 }, (_, i) => Math.round(Math.sin(i * 12.9898) * 50));
    const order = Array.from(xs.keys()).sort((a, b) => xs[b]! - xs[a]! || a - b);
    const bottomOrder = Array.from(xs.keys()).sort((a, b) => xs[a]! - xs[b]! || a - b);
    for (const k of [1, 7, 100]) {
      const e = extremes(xs, k);
      expect(e.top.map((s) => s.token)).toEqual(order.slice(0, k));
      expect(e.bottom.map((s) => s.token)).toEqual(bottomOrder.slice(0, k));
    }
    expect(extremes(Float32Array.of(2, 1), 5).top.map((s) => s.token)).toEqual([0, 1]);
  });
});
