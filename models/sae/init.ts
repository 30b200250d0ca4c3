/**
 * The initial weights of an SAE before its first step (a resumed run takes
 * them from its checkpoint instead), deterministic for a seed.
 */
import { rng } from '../random.ts';
import type { SaeWeights } from './stepper.ts';

/** The geometric median of `n` rows of width `d` (`points` is [n, d]), by Weiszfeld's algorithm: a b_dec init. */
export function geometricMedian(points: Float32Array, n: number, d: number, iters = 50): Float32Array {
  const m = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) m[i]! += points[r * d + i]! / n;
  for (let it = 0; it < iters; it++) {
    const next = new Float64Array(d);
    let wsum = 0;
    for (let r = 0; r < n; r++) {
      let dist = 0;
      for (let i = 0; i < d; i++) dist += (points[r * d + i]! - m[i]!) ** 2;
      const w = 1 / Math.max(Math.sqrt(dist), 1e-8);
      wsum += w;
      for (let i = 0; i < d; i++) next[i]! += w * points[r * d + i]!;
    }
    for (let i = 0; i < d; i++) m[i] = next[i]! / wsum;
  }
  return Float32Array.from(m);
}

/** Seeded initial weights of an SAE: decoder rows of norm 0.1 in random directions, the encoder their transpose, zero biases. */
export function initWeights(dIn: number, dSae: number, seed: number): SaeWeights {
  const random = rng(seed ^ 0x5ae);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const W_dec = new Float32Array(dSae * dIn);
  for (let s = 0; s < dSae; s++) {
    let n = 0;
    for (let i = 0; i < dIn; i++) n += (W_dec[s * dIn + i] = gauss()) ** 2;
    // unit-norm rows scaled to 0.1, as SAELens' decoder init
    const f = 0.1 / Math.sqrt(n);
    for (let i = 0; i < dIn; i++) W_dec[s * dIn + i]! *= f;
  }
  const W_enc = new Float32Array(dIn * dSae);
  for (let s = 0; s < dSae; s++) for (let i = 0; i < dIn; i++) W_enc[i * dSae + s] = W_dec[s * dIn + i]!;
  return { W_enc, b_enc: new Float32Array(dSae), W_dec, b_dec: new Float32Array(dIn) };
}
