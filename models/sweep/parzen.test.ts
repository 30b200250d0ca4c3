/**
 * TPE's estimators against hand computations of Optuna's formulas, and the
 * truncated mixture against numerical integration (references from Python's
 * math.erf).
 */
import { describe, expect, it } from 'vitest';
import { categorical, componentWeights, mixtureDensity, normalCdf, parzen, sampleMixture } from './parzen.ts';
import { rng } from '../random.ts';

/** ∫ f over [a, b] by the trapezoid rule on `n` intervals. */
function integrate(f: (x: number) => number, a: number, b: number, n = 20000): number {
  const h = (b - a) / n;
  let s = (f(a) + f(b)) / 2;
  for (let i = 1; i < n; i++) s += f(a + i * h);
  return s * h;
}

describe('Parzen estimators', () => {
  it('compute the normal CDF to 1e-7', () => {
    const refs: [number, number][] = [[0, 0.5], [1, 0.8413447460685429], [-1.96, 0.024997895148220435], [3, 0.9986501019683699], [-5, 2.866515718791939e-7]];
    for (const [z, p] of refs) expect(Math.abs(normalCdf(z) - p)).toBeLessThan(1e-7);
  });

  it('weigh observations as Optuna does: flat up to 25, older ones ramping beyond', () => {
    expect(componentWeights(3, 1)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(componentWeights(0, 1)).toEqual([1]);
    // numpy.linspace(1/30, 1, 5) for the 5 oldest, then 25 ones and the prior's 1
    const raw = [1 / 30, 0.275, 0.5166666666666667, 0.7583333333333333, 1, ...Array(26).fill(1)];
    const sum = raw.reduce((a, b) => a + b, 0);
    const w = componentWeights(30, 1);
    expect(w).toHaveLength(31);
    w.forEach((x, i) => expect(x).toBeCloseTo(raw[i]! / sum, 12));
  });

  it('set bandwidths from neighbour distances, clipped, with a prior', () => {
    // sorted with the bounds: 0 | 0.2 0.5 0.6 | 1. Outermost values ignore the bounds: 0.2 → 0.3, 0.6 → 0.1;
    // 0.5 → max(0.3, 0.1) = 0.3; clipped to [1 / min(100, 3 + 2), 1] = [0.2, 1]; prior at 0.5 with sigma 1
    const m = parzen([0.5, 0.2, 0.6], 0, 1, 1);
    expect(m.mus).toEqual([0.5, 0.2, 0.6, 0.5]);
    m.sigmas.forEach((s, i) => expect(s).toBeCloseTo([0.3, 0.3, 0.2, 1][i]!, 12));
    expect(m.weights).toEqual([0.25, 0.25, 0.25, 0.25]);
    // Φ((1 − μ)/σ) − Φ(−μ/σ) (Python math.erf)
    const mass = [0.9044192954543706, 0.7436770818854874, 0.9758999700201907, 0.38292492254802624];
    m.mass.forEach((x, i) => expect(x).toBeCloseTo(mass[i]!, 6));
    expect(mixtureDensity(m, 0.55)).toBeCloseTo(1.3442702850686623, 6);
    // one value: the larger distance to a bound
    expect(parzen([0.9], 0, 1, 1).sigmas[0]).toBeCloseTo(0.9, 12);
    // close values: 0.01 apart, raised to 1 / (3 + 2)
    parzen([0.5, 0.51, 0.52], 0, 1, 1).sigmas.slice(0, 3).forEach((s) => expect(s).toBeCloseTo(0.2, 12));
    // repeated values get the minimum bandwidth, not 0
    expect(parzen([2, 2, 2], 0, 10, 1).sigmas.slice(0, 3)).toEqual([2, 2, 2]);
  });

  it('are densities on [low, high], and draw from them', () => {
    const m = parzen([-4.9, -3.1, -3, -2.95, -1.2], -5, -1, 1);
    expect(integrate((x) => mixtureDensity(m, x), -5, -1)).toBeCloseTo(1, 6);
    const random = rng(11);
    const xs = Array.from({ length: 20000 }, () => sampleMixture(m, random));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-5);
    expect(Math.max(...xs)).toBeLessThanOrEqual(-1);
    // the draws' mean and the density's, within 4 standard errors
    const mean = integrate((x) => x * mixtureDensity(m, x), -5, -1);
    const sd = Math.sqrt(integrate((x) => (x - mean) ** 2 * mixtureDensity(m, x), -5, -1));
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length - mean)).toBeLessThan((4 * sd) / Math.sqrt(xs.length));
    // and the share below -3.5, against the integral
    const below = integrate((x) => mixtureDensity(m, x), -5, -3.5);
    expect(Math.abs(xs.filter((x) => x < -3.5).length / xs.length - below)).toBeLessThan(4 * Math.sqrt((below * (1 - below)) / xs.length));
  });

  it('smooth a categorical towards uniform', () => {
    // kernels: 1 on the choice + 1/4 on every choice, over 1.75; prior uniform; weights 1/4 each
    // p = 1/4 · (2·1.25/1.75 + 0.25/1.75 + 1/3, 3·0.25/1.75 + 1/3, 2·0.25/1.75 + 1.25/1.75 + 1/3) = (10, 4, 7) / 21
    const p = categorical([0, 0, 2], 3, 1);
    p.forEach((x, i) => expect(x).toBeCloseTo([10 / 21, 4 / 21, 7 / 21][i]!, 12));
    expect(categorical([], 4, 1)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});
