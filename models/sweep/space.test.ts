/** The search space: its schema's messages, the exact grid, and uniform draws. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { rng } from '../random.ts';
import { gridAxis, gridPoint, gridPoints, gridSize, paramSpecSchema, sampleRandom, searchSpaceSchema, type ParamSpec, type SearchSpace } from './space.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const messages = (space: unknown) => searchSpaceSchema.safeParse(space).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

describe('search space schema', () => {
  it('accepts a space of training settings, and its types match', () => {
    const space = {
      lr: { type: 'float', min: 1e-5, max: 1e-2, log: true, points: 4 },
      k: { type: 'int', min: 8, max: 128, log: true },
      architecture: { type: 'choice', values: ['topk', 'batchtopk'] },
      normalizeDecoder: { type: 'choice', values: [true, false] },
    };
    expect(searchSpaceSchema.parse(space)).toEqual(space);
    expect(Object.keys(searchSpaceSchema.parse(space))).toEqual(['lr', 'k', 'architecture', 'normalizeDecoder']);
    expectTypeOf<z.infer<typeof searchSpaceSchema>>().toEqualTypeOf<SearchSpace>();
    expectTypeOf<z.infer<typeof paramSpecSchema>>().toEqualTypeOf<ParamSpec>();
  });

  it('names the problem and where it is', () => {
    expect(messages({ lr: { type: 'float', min: 0.1, max: 0.01 } })).toEqual(['lr.max: min (0.1) must be below max (0.01)']);
    expect(messages({ l1Coefficient: { type: 'float', min: 0, max: 10, log: true } })).toEqual(['l1Coefficient.min: a log range needs min > 0 (got 0)']);
    expect(messages({ k: { type: 'int', min: 1.5, max: 64 } })).toEqual(['k.min: int bounds must be integers']);
    expect(messages({ k: { type: 'int', min: 1, max: 64, points: 1 } })).toEqual(['k.points: points must be at least 2']);
    expect(messages({ k: { type: 'int', min: 1, max: 64, points: 101 } })).toEqual(['k.points: points must be at most 100']);
    expect(messages({ architecture: { type: 'choice', values: ['topk', 'topk'] } })).toEqual(['architecture.values: choice values must be distinct']);
    expect(messages({ architecture: { type: 'choice', values: [] } })).toEqual(['architecture.values: a choice needs at least one value']);
    expect(messages({ architecture: { type: 'choice', values: ['topk', 'gelu'] } })).toEqual(['architecture: architecture cannot be "gelu"']);
    expect(messages({ lr: { type: 'float', min: 1e-4, max: 2 } })).toEqual(['lr: lr cannot be 2']);
    expect(messages({ k: { type: 'float', min: 8, max: 64 } })).toEqual(['k: k takes integers: make it an int range']);
    expect(messages({ learningRate: { type: 'float', min: 0, max: 1 } })).toEqual(['learningRate: "learningRate" is not a training setting']);
    expect(messages({})).toEqual([': a search space needs at least one parameter']);
    const thirteen = ['k', 'lr', 'l1Coefficient', 'l1WarmupSteps', 'initThreshold', 'bandwidth', 'lrWarmupSteps', 'lrDecayFraction', 'beta1', 'beta2', 'batchSize', 'denseThreshold', 'seed'];
    const big = Object.fromEntries(thirteen.map((k) => [k, { type: 'choice', values: [0.5] }]));
    expect(messages(big)).toContain(': a search space takes at most 12 parameters (got 13)');
    expect(paramSpecSchema.safeParse({ type: 'float', min: 0, max: 1, step: 0.1 }).success).toBe(false);
  });
});

describe('grid', () => {
  it('spaces a range evenly, geometrically when log, with exact endpoints', () => {
    expect(gridAxis({ type: 'float', min: 0, max: 1 })).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(gridAxis({ type: 'float', min: 0.1, max: 0.3, points: 3 })).toEqual([0.1, 0.2, 0.3]);
    expect(gridAxis({ type: 'float', min: 1e-5, max: 1e-1, log: true })).toEqual([1e-5, 1e-4, 1e-3, 1e-2, 1e-1]);
    expect(gridAxis({ type: 'float', min: 1, max: 100, log: true, points: 3 })).toEqual([1, 10, 100]);
    expect(gridAxis({ type: 'choice', values: ['relu', 'topk'] })).toEqual(['relu', 'topk']);
  });

  it('rounds an int range and drops repeats', () => {
    // 1, 1.5, 2, 2.5, 3 → 1, 2, 2, 3, 3
    expect(gridAxis({ type: 'int', min: 1, max: 3 })).toEqual([1, 2, 3]);
    // 0, 3.33, 6.67, 10
    expect(gridAxis({ type: 'int', min: 0, max: 10, points: 4 })).toEqual([0, 3, 7, 10]);
    expect(gridAxis({ type: 'int', min: 8, max: 128, log: true })).toEqual([8, 16, 32, 64, 128]);
    // 1, 10^(1/3) = 2.15, 10^(2/3) = 4.64, 10
    expect(gridAxis({ type: 'int', min: 1, max: 10, log: true, points: 4 })).toEqual([1, 2, 5, 10]);
  });

  it('enumerates the cartesian product in key order, the last key fastest', () => {
    const space: SearchSpace = {
      architecture: { type: 'choice', values: ['relu', 'topk'] },
      k: { type: 'int', min: 1, max: 3, points: 3 },
      normalizeDecoder: { type: 'choice', values: [false, true] },
    };
    expect(gridSize(space)).toBe(12);
    const points = gridPoints(space);
    expect(points.map((p) => Object.keys(p))).toEqual(Array(12).fill(['architecture', 'k', 'normalizeDecoder']));
    expect(points.map((p) => `${p.architecture} ${p.k} ${p.normalizeDecoder}`)).toEqual([
      'relu 1 false', 'relu 1 true', 'relu 2 false', 'relu 2 true', 'relu 3 false', 'relu 3 true',
      'topk 1 false', 'topk 1 true', 'topk 2 false', 'topk 2 true', 'topk 3 false', 'topk 3 true',
    ]);
    expect(gridPoint(space, 7)).toEqual(points[7]);
    expect(() => gridPoint(space, 12)).toThrow(RangeError);
    expect(() => gridPoint(space, -1)).toThrow(RangeError);
    expect(gridSize({ lr: { type: 'float', min: 1e-5, max: 1e-1, log: true, points: 100 }, k: { type: 'int', min: 1, max: 3 } })).toBe(300);
  });
});

describe('random draws', () => {
  const space: SearchSpace = {
    lr: { type: 'float', min: 1e-5, max: 1e-1, log: true },
    lrDecayFraction: { type: 'float', min: 0.2, max: 0.6 },
    k: { type: 'int', min: 1, max: 4 },
    batchSize: { type: 'int', min: 1, max: 100, log: true },
    architecture: { type: 'choice', values: ['relu', 'topk', 'jumprelu'] },
  };
  const n = 4000;
  const random = rng(1);
  const draws = Array.from({ length: n }, () => sampleRandom(space, random));
  const col = (key: string) => draws.map((d) => d[key] as number);

  it('stay in bounds, ints integral', () => {
    const range = (key: string) => [Math.min(...col(key)), Math.max(...col(key))];
    expect(range('lr')[0]).toBeGreaterThanOrEqual(1e-5);
    expect(range('lr')[1]).toBeLessThanOrEqual(1e-1);
    expect(range('lrDecayFraction')[0]).toBeGreaterThanOrEqual(0.2);
    expect(range('lrDecayFraction')[1]).toBeLessThanOrEqual(0.6);
    // both ends of an int range are drawn
    expect(range('k')).toEqual([1, 4]);
    expect(range('batchSize')).toEqual([1, 100]);
    expect(col('k').concat(col('batchSize')).every(Number.isInteger)).toBe(true);
  });

  it('are uniform on the line: log-uniform when log', () => {
    // log10 of a log-uniform draw on [1e-5, 1e-1] is uniform on [-5, -1]: median -3
    expect(Math.log10(median(col('lr')))).toBeCloseTo(-3, 1);
    expect(median(col('lrDecayFraction'))).toBeCloseTo(0.4, 1);
    // rounded log-uniform on [0.5, 100.5]: the continuous median sqrt(0.5 · 100.5) = 7.09 (on [1, 100] it would be 10)
    expect(Math.abs(median(col('batchSize')) - 7)).toBeLessThanOrEqual(1);
    // each integer 1..4 and each choice: 1/4 and 1/3 of the draws, within 5 standard errors
    for (const v of [1, 2, 3, 4]) expect(Math.abs(col('k').filter((k) => k === v).length - n / 4)).toBeLessThan(5 * Math.sqrt(n * 0.25 * 0.75));
    for (const v of ['relu', 'topk', 'jumprelu']) expect(Math.abs(draws.filter((d) => d.architecture === v).length - n / 3)).toBeLessThan(5 * Math.sqrt((n * 2) / 9));
  });

  it('are the same for the same seed, different for another', () => {
    expect(sampleRandom(space, rng(7))).toEqual(sampleRandom(space, rng(7)));
    expect(sampleRandom(space, rng(7))).not.toEqual(sampleRandom(space, rng(8)));
  });
});
