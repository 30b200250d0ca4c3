/**
 * The Parzen estimators of TPE (tpe.ts), as Optuna builds them
 * (optuna/samplers/_tpe/parzen_estimator.py, univariate, default settings):
 * for a range, a mixture of Gaussians truncated to [low, high], one per
 * observed value plus a wide prior; for a choice, a categorical smoothed
 * towards uniform.
 */
import { gaussian } from '../random.ts';

/**
 * The mixture weights of n observations (in trial order) and the prior
 * (last), normalised. Optuna's default_weights: up to 25 observations weigh 1
 * each; beyond, the n − 25 oldest ramp linearly from 1/n up to 1, so that old
 * trials fade.
 */
export function componentWeights(n: number, priorWeight: number): number[] {
  const ramp = Math.max(0, n - 25);
  const w = Array.from({ length: n }, (_, i) => (i >= ramp ? 1 : ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1)));
  w.push(priorWeight);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/**
 * A categorical estimator over `n` choices from the observed choice indices
 * (in trial order): the mixture, weighted as {@link componentWeights}, of one
 * kernel per observation (1 on its choice plus priorWeight / (observations + 1)
 * on every choice, normalised) and a uniform prior.
 * @returns the probability of each choice, [n]
 */
export function categorical(observed: readonly number[], n: number, priorWeight: number): number[] {
  const weights = componentWeights(observed.length, priorWeight);
  const smooth = priorWeight / (observed.length + 1);
  const p = new Array<number>(n).fill(weights[observed.length]! / n);
  observed.forEach((c, i) => {
    const w = weights[i]! / (1 + n * smooth);
    for (let j = 0; j < n; j++) p[j]! += w * (smooth + (j === c ? 1 : 0));
  });
  return p;
}

/** An index drawn with probabilities `p` (summing to 1). */
export function drawIndex(p: readonly number[], random: () => number): number {
  let u = random();
  for (let i = 0; i < p.length - 1; i++) {
    u -= p[i]!;
    if (u < 0) return i;
  }
  return p.length - 1;
}

/** A mixture of Gaussians truncated to [low, high]. */
export interface Mixture {
  low: number;
  high: number;
  /** normalised, [components] */
  weights: number[];
  mus: number[];
  sigmas: number[];
  /** each component's mass inside [low, high] before truncation */
  mass: number[];
}

/**
 * The Parzen estimator of the values `xs` (in trial order) on [low, high]:
 * a Gaussian at each value plus a prior at the middle with sigma high − low,
 * weighted as {@link componentWeights}. A value's bandwidth is the larger
 * distance to its neighbours (the bounds count as neighbours, except for the
 * outermost values when there are two or more: Optuna's
 * consider_endpoints=False), clipped to [(high − low) / min(100, n + 2), high − low]
 * (Optuna's "magic clip", n + 1 kernels counting the prior).
 */
export function parzen(xs: readonly number[], low: number, high: number, priorWeight: number): Mixture {
  const range = high - low;
  const n = xs.length;
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  // sorted[r + 1] is the r-th smallest value
  const sorted = [low, ...order.map((i) => xs[i]!), high];
  const sigmas = new Array<number>(n);
  order.forEach((i, r) => (sigmas[i] = Math.max(sorted[r + 1]! - sorted[r]!, sorted[r + 2]! - sorted[r + 1]!)));
  if (n >= 2) {
    sigmas[order[0]!] = sorted[2]! - sorted[1]!;
    sigmas[order[n - 1]!] = sorted[n]! - sorted[n - 1]!;
  }
  const minSigma = range / Math.min(100, n + 2);
  const mus = [...xs, (low + high) / 2];
  const all = [...sigmas.map((s) => Math.min(range, Math.max(minSigma, s))), range];
  return {
    low,
    high,
    weights: componentWeights(n, priorWeight),
    mus,
    sigmas: all,
    mass: mus.map((m, i) => normalCdf((high - m) / all[i]!) - normalCdf((low - m) / all[i]!)),
  };
}

/** A draw from the mixture, inside [low, high]. */
export function sampleMixture(m: Mixture, random: () => number): number {
  const i = drawIndex(m.weights, random);
  // rejection: every mean lies in [low, high] and no sigma exceeds the range, so over a third of the draws land inside
  for (;;) {
    const x = m.mus[i]! + m.sigmas[i]! * gaussian(random);
    if (x >= m.low && x <= m.high) return x;
  }
}

/** The mixture's density at x in [low, high] (never 0 there: the prior's sigma is the whole range). */
export function mixtureDensity(m: Mixture, x: number): number {
  let p = 0;
  for (let i = 0; i < m.mus.length; i++) {
    const z = (x - m.mus[i]!) / m.sigmas[i]!;
    p += (m.weights[i]! * Math.exp(-0.5 * z * z)) / (Math.sqrt(2 * Math.PI) * m.sigmas[i]! * m.mass[i]!);
  }
  return p;
}

/** Φ(z), the standard normal CDF, through erfc (Numerical Recipes' erfcc: relative error below 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(-x * x + poly);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}
