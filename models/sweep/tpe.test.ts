/** TPE: uniform draws at first, then proposals that follow the good trials. */
import { describe, expect, it } from 'vitest';
import { rng, seedOf } from '../random.ts';
import { sampleRandom, type Params, type SearchSpace } from './space.ts';
import { sampleTpe, splitObservations, type Observation } from './tpe.ts';

const space: SearchSpace = {
  lr: { type: 'float', min: 1e-5, max: 1e-1, log: true },
  k: { type: 'int', min: 1, max: 128 },
  architecture: { type: 'choice', values: ['relu', 'topk', 'jumprelu'] },
};

/** Best at lr = 1e-3, k = 32, topk; each parameter can cost about as much as the others. */
const score = (p: Params) => -((Math.log10(p.lr as number) + 3) ** 2) / 4 - (((p.k as number) - 32) / 64) ** 2 - (p.architecture === 'topk' ? 0 : 1);

/** `n` uniform trials, scored. */
function history(n: number, seed: number): Observation[] {
  const random = rng(seed);
  return Array.from({ length: n }, () => {
    const params = sampleRandom(space, random);
    return { params, score: score(params) };
  });
}

describe('TPE', () => {
  it('draws uniformly until nStartup trials have finished', () => {
    const h = history(9, 1);
    expect(sampleTpe(space, h, rng(5))).toEqual(sampleRandom(space, rng(5)));
    expect(sampleTpe(space, history(10, 1), rng(5))).not.toEqual(sampleRandom(space, rng(5)));
    expect(sampleTpe(space, history(4, 1), rng(5), { nStartup: 4 })).not.toEqual(sampleRandom(space, rng(5)));
  });

  it('splits off the best ⌈γ·n⌉ trials, ties to the earlier, keeping trial order', () => {
    const obs = [3, 9, 1, 9, 7, 2, 8, 0, 5, 4].map((s, i) => ({ params: { i }, score: s }));
    const { good, bad } = splitObservations(obs, 0.25);
    expect(good.map((o) => o.params.i)).toEqual([1, 3, 6]);
    expect(bad.map((o) => o.params.i)).toEqual([0, 2, 4, 5, 7, 8, 9]);
    expect(splitObservations(obs.slice(0, 2), 0.1).good.map((o) => o.params.i)).toEqual([1]);
    expect(splitObservations(obs, 0.5).good.map((o) => o.params.i)).toEqual([1, 3, 4, 6, 8]);
  });

  it('proposes near the good trials: log ranges, int ranges and choices', () => {
    const h = history(50, 2);
    const proposals = Array.from({ length: 300 }, (_, i) => sampleTpe(space, h, rng(seedOf(9, i))));
    const lr = proposals.map((p) => Math.log10(p.lr as number)).sort((a, b) => a - b);
    const k = proposals.map((p) => p.k as number).sort((a, b) => a - b);
    // uniform draws would have a median of -3 ± 0.25 and an interquartile range of 2 decades
    expect(Math.abs(lr[150]! + 3)).toBeLessThan(0.5);
    expect(lr[225]! - lr[75]!).toBeLessThan(1);
    // k: integers in range, the middle half near 32 (uniform draws: 32..96)
    expect(k.every((x) => Number.isInteger(x) && x >= 1 && x <= 128)).toBe(true);
    expect(Math.abs(k[150]! - 32)).toBeLessThan(16);
    expect(k[225]! - k[75]!).toBeLessThan(40);
    // topk: a third of uniform draws
    expect(proposals.filter((p) => p.architecture === 'topk').length / 300).toBeGreaterThan(0.7);
  });

  it('is deterministic in the history and the stream, and skips values outside the space', () => {
    const h = history(30, 3);
    expect(sampleTpe(space, h, rng(4))).toEqual(sampleTpe(space, h, rng(4)));
    expect(sampleTpe(space, h, rng(4))).not.toEqual(sampleTpe(space, h, rng(6)));
    // trials from an older space: lr out of range, a choice no longer offered, k missing
    const edited = [...h, { params: { lr: 5, architecture: 'gelu' }, score: 100 }];
    for (let i = 0; i < 50; i++) {
      const p = sampleTpe(space, edited, rng(i));
      expect(p.lr).toBeLessThanOrEqual(1e-1);
      expect(['relu', 'topk', 'jumprelu']).toContain(p.architecture);
    }
  });
});
