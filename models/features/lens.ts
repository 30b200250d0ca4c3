/**
 * The logit lens of a feature: its decoder direction W_dec[f] read through
 * the unembedding, as TransformerLens (with `fold_ln`), Neuronpedia and SAE
 * dashboards read it.
 *
 * - `weight` (the default): for a LayerNorm family the direction minus its
 *   mean (mean-centring is the one part of a LayerNorm that is linear in a
 *   direction), as is for an RMSNorm family; times the final norm's gain γ
 *   (Gemma's 1 + γ, as the family file reads it); then W_U.
 * - `none`: W_dec[f] · W_U exactly.
 *
 * Never added: the final norm's bias or the unembedding's bias. Each gives
 * every feature the same vector (b · W_U), which dominates the ranking of a
 * weak or dense feature. Nor is the direction divided by its own scale. A
 * final logit soft-cap (Gemma 2) is monotonic, so it leaves the ranking as
 * it is: values are before it.
 *
 * Only the model's head is read (models/architectures: `Family.head`), never
 * its blocks, and no graph is built.
 */
import { familyOf } from '../architectures/index.ts';
import type { ArchSpec, Linear } from '../architectures/spec.ts';
import { readModelConfig } from '../model-files.ts';
import { openModelWeights } from '../model-check.ts';
import type { LensNorm } from '../contracts/features.ts';

export interface TokenScore {
  token: number;
  value: number;
}

/** What the lens multiplies a direction by: the final norm's kind and gain, and W_U. */
export interface Unembedding {
  modelType: string;
  dModel: number;
  vocab: number;
  /** the final norm's kind; null when the model has none (OPT with `_remove_final_layer_norm`) */
  norm: ArchSpec['norm'] | null;
  /** γ of the final norm (1 + γ for Gemma), null when there is no final norm */
  gain: Float32Array | null;
  /** W_U as [vocab, dModel] (out_in) or [dModel, vocab] (in_out); its bias is not kept */
  unembed: Pick<Linear, 'w' | 'layout'>;
  /** c of the logit soft-cap c·tanh(l/c), which the lens's values are before */
  softcap: number | null;
}

/** The head of the model in `dir` (its final norm and unembedding), read without its blocks. */
export async function readUnembedding(dir: string): Promise<Unembedding> {
  const config = await readModelConfig(dir);
  const family = familyOf(config);
  const spec = family.spec(config);
  const src = await openModelWeights(dir);
  try {
    const head = await family.head(src, spec, config);
    return {
      modelType: spec.modelType,
      dModel: spec.dModel,
      vocab: spec.vocabSize,
      norm: head.finalNorm ? spec.norm : null,
      gain: head.finalNorm?.w ?? null,
      // tied: the embedding [vocab, dModel] is W_Uᵀ as stored
      unembed: head.unembed ?? { w: head.embed, layout: 'out_in' },
      softcap: spec.finalSoftcap,
    };
  } finally {
    await src.close();
  }
}

/** The vector the lens multiplies by W_U: `direction` centred (LayerNorm, `weight`) and scaled by γ (`weight`), or as is (`none`). */
export function lensVector(u: Unembedding, direction: Float32Array, norm: LensNorm): Float64Array {
  const d = u.dModel;
  if (direction.length !== d) throw new Error(`the direction has ${direction.length} values, the model ${d}`);
  const v = Float64Array.from(direction);
  if (norm === 'none' || !u.gain) return v;
  if (u.norm === 'layer') {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += v[i]!;
    mean /= d;
    for (let i = 0; i < d; i++) v[i]! -= mean;
  }
  for (let i = 0; i < d; i++) v[i]! *= u.gain[i]!;
  return v;
}

/** The lens's value for every token of the vocabulary (before any soft-cap). */
export function lensLogits(u: Unembedding, direction: Float32Array, norm: LensNorm): Float32Array {
  const v = lensVector(u, direction, norm);
  const { w, layout } = u.unembed;
  const d = u.dModel;
  const V = u.vocab;
  const out = new Float32Array(V);
  if (layout === 'out_in') {
    for (let t = 0; t < V; t++) {
      const o = t * d;
      let s = 0;
      for (let i = 0; i < d; i++) s += v[i]! * w[o + i]!;
      out[t] = s;
    }
  } else {
    const acc = new Float64Array(V);
    for (let i = 0; i < d; i++) {
      const vi = v[i]!;
      if (vi === 0) continue;
      const o = i * V;
      for (let t = 0; t < V; t++) acc[t]! += vi * w[o + t]!;
    }
    out.set(acc);
  }
  return out;
}

/** The `k` largest and `k` smallest values of `xs` with their indices, largest (smallest) first; ties go to the lower index. */
export function extremes(xs: Float32Array, k: number): { top: TokenScore[]; bottom: TokenScore[] } {
  const n = Math.min(k, xs.length);
  const keep = (better: (a: number, b: number) => boolean) => {
    const idx: number[] = [];
    for (let t = 0; t < xs.length; t++) {
      const x = xs[t]!;
      if (idx.length === n && !better(x, xs[idx[n - 1]!]!)) continue;
      // insertion into a sorted list of at most k: k is small (≤ 100)
      let j = idx.length === n ? n - 1 : idx.length;
      while (j > 0 && better(x, xs[idx[j - 1]!]!)) {
        idx[j] = idx[j - 1]!;
        j--;
      }
      idx[j] = t;
    }
    return idx.map((token) => ({ token, value: xs[token]! }));
  };
  return { top: keep((a, b) => a > b), bottom: keep((a, b) => a < b) };
}

/** Top and bottom `k` tokens of a feature's decoder direction under the convention `norm`. */
export function logitLens(u: Unembedding, direction: Float32Array, opts: { k: number; norm: LensNorm }): { top: TokenScore[]; bottom: TokenScore[] } {
  return extremes(lensLogits(u, direction, opts.norm), opts.k);
}
