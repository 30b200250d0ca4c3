/** Parameter importance: η² against a hand computation, and the parameter that matters found. */
import { describe, expect, it } from 'vitest';
import { paramImportance } from './importance.ts';
import { rng } from '../random.ts';
import { sampleRandom, type SearchSpace } from './space.ts';

const space: SearchSpace = {
  lr: { type: 'float', min: 1e-5, max: 1e-1, log: true },
  k: { type: 'int', min: 1, max: 128 },
  architecture: { type: 'choice', values: ['relu', 'topk', 'jumprelu'] },
  lrDecayFraction: { type: 'float', min: 0, max: 1 },
};

describe('paramImportance', () => {
  it('gives nearly all the importance to the one parameter the score depends on', () => {
    const random = rng(3);
    // η² of an irrelevant parameter is (groups − 1) / (n − 1) by chance on average: about 0.015 here
    const trials = Array.from({ length: 200 }, () => {
      const params = sampleRandom(space, random);
      return { params, score: -((Math.log10(params.lr as number) + 3) ** 2) };
    });
    const imp = paramImportance(space, trials);
    expect(Object.keys(imp)).toEqual(['lr', 'k', 'architecture', 'lrDecayFraction']);
    expect(Object.values(imp).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(imp.lr).toBeGreaterThan(0.9);
    // and to a choice, when it is the one
    const byArch = paramImportance(space, trials.map((t) => ({ params: t.params, score: t.params.architecture === 'topk' ? 1 : 0 })));
    expect(byArch.architecture).toBeGreaterThan(0.9);
  });

  it('is η² by choice value, normalised', () => {
    const s: SearchSpace = { architecture: { type: 'choice', values: ['relu', 'topk'] }, normalizeDecoder: { type: 'choice', values: [true, false] } };
    const t = (architecture: string, normalizeDecoder: boolean, score: number) => ({ params: { architecture, normalizeDecoder }, score });
    // scores 1 2 | 5 6 by architecture, 1 5 | 2 6 by normalizeDecoder; mean 3.5, total SS 17
    // architecture: 2·(1.5 − 3.5)² + 2·(5.5 − 3.5)² = 16 → η² 16/17; normalizeDecoder: 2·(3 − 3.5)² + 2·(4 − 3.5)² = 1 → 1/17
    const imp = paramImportance(s, [t('relu', true, 1), t('relu', false, 2), t('topk', true, 5), t('topk', false, 6)]);
    expect(imp.architecture).toBeCloseTo(16 / 17, 12);
    expect(imp.normalizeDecoder).toBeCloseTo(1 / 17, 12);
  });

  it('bins a range into quartiles', () => {
    const s: SearchSpace = { k: { type: 'int', min: 1, max: 8 }, lr: { type: 'float', min: 0, max: 1 } };
    // k 1..8 in bins {1,2} {3,4} {5,6} {7,8}: scores 0 0 | 0 0 | 0 0 | 4 4 → η²(k) = 1; lr the same for every trial → η² 0
    const trials = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => ({ params: { k, lr: 0.5 }, score: k >= 7 ? 4 : 0 }));
    expect(paramImportance(s, trials)).toEqual({ k: 1, lr: 0 });
    // within a bin the score does not count. Scores 0 … 0 4 (k = 8): mean 0.5, total SS 7·0.25 + 3.5² = 14;
    // k's bins' means 0 0 0 2: between 6·0.25 + 2·1.5² = 6 → η² 6/14; c by parity (odd: 0, even: mean 1): 8·0.25 = 2 → 2/14
    const s2: SearchSpace = { k: s.k!, c: { type: 'choice', values: ['odd', 'even'] } };
    const within = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => ({ params: { k, c: k % 2 ? 'odd' : 'even' }, score: k === 8 ? 4 : 0 }));
    const imp = paramImportance(s2, within);
    expect(imp.k).toBeCloseTo(6 / 8, 12);
    expect(imp.c).toBeCloseTo(2 / 8, 12);
  });

  it('is 0 everywhere with fewer than 3 scored trials or scores that do not vary', () => {
    const p = { lr: 1e-3, k: 4, architecture: 'topk', lrDecayFraction: 0.2 };
    const zero = { lr: 0, k: 0, architecture: 0, lrDecayFraction: 0 };
    expect(paramImportance(space, [{ params: p, score: 1 }, { params: { ...p, k: 9 }, score: 2 }, { params: p, score: null }])).toEqual(zero);
    expect(paramImportance(space, [1, 2, 3].map((k) => ({ params: { ...p, k }, score: 0.1 })))).toEqual(zero);
  });
});
