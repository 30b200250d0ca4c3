/**
 * Proposals as the sweep coordinator sees them: each method's params,
 * determinism, which trials TPE learns from, and TPE against random search
 * on a known function.
 */
import { describe, expect, it } from 'vitest';
import { proposeTrial, type SweepMethod, type TrialRecord } from './propose.ts';
import { gaussian, rng, seedOf } from '../random.ts';
import { gridPoints, sampleRandom, type SearchSpace } from './space.ts';

const space: SearchSpace = {
  lr: { type: 'float', min: 1e-5, max: 1e-1, log: true },
  lrDecayFraction: { type: 'float', min: 0, max: 1 },
};

/** The function swept: its maximum 0 at lr = 1e-3, lrDecayFraction = 0.3; its minimum over the box −(2² + 3.5²) = −16.25. */
const f = (lr: number, y: number) => -((Math.log10(lr) + 3) ** 2 + ((y - 0.3) / 0.2) ** 2);

/** `n` completed trials of `method`, scored by f plus N(0, 0.05²) noise, or up to the first that `stop` accepts. */
function run(method: SweepMethod, seed: number, n: number, stop = (_: TrialRecord) => false): TrialRecord[] {
  const noise = rng(seedOf(seed, 0xf00d));
  const trials: TrialRecord[] = [];
  for (let i = 0; i < n; i++) {
    const params = proposeTrial(method, space, seed, i, trials);
    trials.push({ number: i, params, state: 'completed', score: f(params.lr as number, params.lrDecayFraction as number) + 0.05 * gaussian(noise) });
    if (stop(trials[i]!)) break;
  }
  return trials;
}

describe('proposeTrial', () => {
  it('walks the grid in order, whatever the seed', () => {
    const grid: SearchSpace = { k: { type: 'int', min: 8, max: 32, points: 3 }, architecture: { type: 'choice', values: ['relu', 'topk'] } };
    const all = gridPoints(grid);
    expect(all.map((_, i) => proposeTrial('grid', grid, i * 13, i, []))).toEqual(all);
    expect(() => proposeTrial('grid', grid, 0, all.length, [])).toThrow(RangeError);
  });

  it('draws random trials from (seed, number) alone', () => {
    const h = run('random', 1, 5);
    expect(proposeTrial('random', space, 1, 5, h)).toEqual(sampleRandom(space, rng(seedOf(1, 5))));
    expect(proposeTrial('random', space, 1, 5, [])).toEqual(proposeTrial('random', space, 1, 5, h));
    expect(proposeTrial('random', space, 1, 6, [])).not.toEqual(proposeTrial('random', space, 1, 5, []));
    expect(proposeTrial('random', space, 2, 5, [])).not.toEqual(proposeTrial('random', space, 1, 5, []));
  });

  it('learns TPE from finished, scored trials only, in any order', () => {
    const h = run('tpe', 3, 20);
    const next = proposeTrial('tpe', space, 3, 20, h);
    expect(proposeTrial('tpe', space, 3, 20, [...h].reverse())).toEqual(next);
    const noise: TrialRecord[] = [
      { number: 20, params: { lr: 1e-5, lrDecayFraction: 1 }, state: 'running', score: null },
      { number: 21, params: { lr: 1e-5, lrDecayFraction: 1 }, state: 'failed', score: 99 },
      { number: 22, params: { lr: 1e-5, lrDecayFraction: 1 }, state: 'cancelled', score: 99 },
      { number: 23, params: { lr: 1e-5, lrDecayFraction: 1 }, state: 'pruned', score: null },
    ];
    expect(proposeTrial('tpe', space, 3, 20, [...h, ...noise])).toEqual(next);
    // a pruned trial with a score counts
    const pruned: TrialRecord = { number: 23, params: { lr: 1e-5, lrDecayFraction: 1 }, state: 'pruned', score: 99 };
    expect(proposeTrial('tpe', space, 3, 20, [...h, pruned])).not.toEqual(next);
    // until 10 have finished, TPE's trials are random's
    expect(run('tpe', 4, 10).map((t) => t.params)).toEqual(run('random', 4, 10).map((t) => t.params));
  });

  it('finds the optimum of a known function in fewer trials with TPE than with random search', () => {
    // "found": a trial within 5 % of each range of the optimum, |log10 lr + 3| ≤ 0.2 and |lrDecayFraction − 0.3| ≤ 0.05,
    // a box of 1 % of the space (random search: 100 trials on average, capped at 200 here)
    const CAP = 200;
    const found = (t: TrialRecord) => Math.abs(Math.log10(t.params.lr as number) + 3) <= 0.2 && Math.abs((t.params.lrDecayFraction as number) - 0.3) <= 0.05;
    const trialsToFind = (method: SweepMethod, seed: number) => run(method, seed, CAP, found).length;
    const seeds = Array.from({ length: 12 }, (_, i) => i);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const tpe = mean(seeds.map((s) => trialsToFind('tpe', s)));
    const random = mean(seeds.map((s) => trialsToFind('random', s)));
    console.log(`trials to find the optimum, mean over ${seeds.length} seeds: TPE ${tpe.toFixed(1)}, random ${random.toFixed(1)}`);
    expect(tpe).toBeLessThan(random / 2);
  });
});
