import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareQuerySchema, type CompareRun } from '../../models/contracts/compare.ts';
import { METRIC_KEYS, METRICS, type MetricKey } from '../../models/contracts/metrics.ts';
import {
  bestRuns,
  compareApiPath,
  compareHref,
  compareSearchParams,
  DEFAULT_VIEW,
  ema,
  finalMetrics,
  formatSetting,
  nextSort,
  paretoFront,
  parseCompareView,
  runLabels,
  sortRuns,
  type CompareSort,
  type CompareView,
  type FrontierPoint,
} from './compare-view.ts';

const A = '6f1f4f0e-8a43-4a57-9a0e-3f8d3c0b7a11';
const B = '0d3c1e2f-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const C = '9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4';

/** A run's final values: every registry key, null unless given. */
const final = (v: Partial<Record<MetricKey, number | null>>): Record<MetricKey, number | null> => ({ ...(Object.fromEntries(METRIC_KEYS.map((k) => [k, null])) as Record<MetricKey, number | null>), ...v });
const run = (key: string, v: Partial<Record<MetricKey, number | null>>, name = key): Pick<CompareRun, 'key' | 'trainingId' | 'trainingName' | 'hook' | 'final'> => ({
  key,
  trainingId: key,
  trainingName: name,
  hook: 'blocks.3.hook_resid_post',
  final: final(v),
});

/** The reference: the points no other point dominates, by a check of every pair. */
function bruteFront(points: readonly FrontierPoint[]): Set<number> {
  const ok = (p: FrontierPoint) => Number.isFinite(p.x) && Number.isFinite(p.y);
  const out = new Set<number>();
  points.forEach((p, i) => {
    if (!ok(p)) return;
    const dominated = points.some((q) => ok(q) && q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y));
    if (!dominated) out.add(i);
  });
  return out;
}

describe('the Pareto front (lower x, higher y)', () => {
  it('matches a brute-force dominance check on random point sets, with ties and duplicates', () => {
    // values from a small grid, so that equal x, equal y and equal points are frequent
    const value = fc.oneof(fc.integer({ min: 0, max: 6 }).map((n) => n / 2), fc.double({ min: -5, max: 5, noNaN: true }), fc.constantFrom(NaN, Infinity));
    fc.assert(
      fc.property(fc.array(fc.record({ x: value, y: value }), { maxLength: 40 }), (raw) => {
        const points = raw.map((p, i) => ({ key: String(i), ...p }));
        const front = paretoFront(points);
        expect(new Set(front.map((p) => Number(p.key)))).toEqual(bruteFront(points));
        // by ascending x, and y rising along it (a staircase)
        for (let i = 1; i < front.length; i++) {
          expect(front[i]!.x).toBeGreaterThanOrEqual(front[i - 1]!.x);
          expect(front[i]!.y).toBeGreaterThanOrEqual(front[i - 1]!.y);
        }
      }),
      { numRuns: 500, seed: 1 },
    );
  });

  it('keeps equal points together and drops a point beaten on one axis only', () => {
    const pts = [
      { key: 'a', x: 10, y: 0.8 },
      { key: 'b', x: 10, y: 0.8 },
      { key: 'c', x: 10, y: 0.7 },
      { key: 'd', x: 20, y: 0.8 },
      { key: 'e', x: 30, y: 0.9 },
      { key: 'f', x: 5, y: 0.1 },
    ];
    expect(paretoFront(pts).map((p) => p.key)).toEqual(['f', 'a', 'b', 'e']);
    expect(paretoFront([])).toEqual([]);
  });
});

describe('EMA smoothing', () => {
  /** The reference: each smoothed value as the weighted sum of the values up to it, written out. */
  function direct(v: readonly number[], w: number): number[] {
    return v.map((_, i) => {
      let s = w ** i * v[0]!;
      for (let j = 1; j <= i; j++) s += (1 - w) * w ** (i - j) * v[j]!;
      return s;
    });
  }

  it('matches the weighted sum written out, for any weight', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.double({ min: 0, max: 0.99, noNaN: true }), (v, w) => {
        const got = ema(v, w);
        const want = direct(v, w);
        got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(want[i]!))));
      }),
      { numRuns: 300, seed: 2 },
    );
  });

  it('leaves the values as they are at 0, and skips a value that is not finite', () => {
    expect(ema([3, 1, 2], 0)).toEqual([3, 1, 2]);
    expect(ema([1, 2, 3], 0.5)).toEqual([1, 1.5, 2.25]);
    const out = ema([NaN, 2, NaN, 4], 0.5);
    expect(out[0]).toBeNaN();
    expect(out[2]).toBeNaN();
    expect([out[1], out[3]]).toEqual([2, 3]);
  });
});

describe('the final table', () => {
  const runs = [
    run('a', { loss: 1, l0: 30, explainedVariance: 0.8, deadFraction: 0, lr: 1e-3, ceLossRecovered: null }),
    run('b', { loss: 0.5, l0: 40, explainedVariance: 0.9, deadFraction: 0, lr: 4e-4, ceLossRecovered: 0.7 }),
    run('c', { loss: 0.5, l0: null, explainedVariance: 0.85, deadFraction: 0, lr: 4e-4, ceLossRecovered: 0.6 }),
  ];

  it('marks the best of each column by the registry\'s direction, nulls ignored, ties all marked, none where all agree', () => {
    const best = bestRuns(runs, ['loss', 'l0', 'explainedVariance', 'deadFraction', 'lr', 'ceLossRecovered', 'mse']);
    expect([...best.get('loss')!]).toEqual(['b', 'c']); // lower is better, a tie
    expect([...best.get('l0')!]).toEqual(['a']); // lower, c has none
    expect([...best.get('explainedVariance')!]).toEqual(['b']); // higher
    expect([...best.get('ceLossRecovered')!]).toEqual(['b']); // higher, a has none
    expect(best.get('deadFraction')!.size).toBe(0); // all equal
    expect(best.get('lr')!.size).toBe(0); // no direction
    expect(best.get('mse')!.size).toBe(0); // nobody recorded it
  });

  it('lists the metrics some run recorded, primary first in the registry\'s order', () => {
    const keys = finalMetrics(runs).map((m) => m.key);
    expect(keys).toEqual(['explainedVariance', 'l0', 'ceLossRecovered', 'loss', 'deadFraction', 'lr']);
    const tiers = finalMetrics([run('x', Object.fromEntries(METRIC_KEYS.map((k) => [k, 1])))]).map((m) => m.tier);
    expect(tiers).toEqual([...tiers].sort((a, b) => ['primary', 'standard', 'diagnostic'].indexOf(a) - ['primary', 'standard', 'diagnostic'].indexOf(b)));
    expect(tiers.length).toBe(METRICS.length);
  });

  it('sorts by a metric either way with runs without a value last, by name, and keeps the server\'s order for ties', () => {
    const labels = runLabels(runs);
    const keys = (s: Parameters<typeof sortRuns>[1]) => sortRuns(runs, s, labels).map((r) => r.key);
    expect(keys(null)).toEqual(['a', 'b', 'c']);
    expect(keys({ key: 'l0', desc: false })).toEqual(['a', 'b', 'c']);
    expect(keys({ key: 'l0', desc: true })).toEqual(['b', 'a', 'c']);
    expect(keys({ key: 'loss', desc: false })).toEqual(['b', 'c', 'a']);
    expect(keys({ key: 'loss', desc: true })).toEqual(['a', 'b', 'c']);
    expect(keys({ key: 'ceLossRecovered', desc: false })).toEqual(['c', 'b', 'a']);
    expect(keys({ key: 'name', desc: true })).toEqual(['c', 'b', 'a']);
    // against a reference: any random values sort as a plain comparison would (nulls last)
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }), { maxLength: 12 }), fc.boolean(), (vals, desc) => {
        const rs = vals.map((v, i) => run(String(i), { mse: v }));
        const got = sortRuns(rs, { key: 'mse', desc }, runLabels(rs)).map((r) => r.final.mse);
        const present = vals.filter((v): v is number => v !== null).sort((a, b) => (desc ? b - a : a - b));
        expect(got).toEqual([...present, ...vals.filter((v) => v === null)]);
      }),
      { seed: 3 },
    );
  });

  it('sorts better values first on a first click, the other way on a second', () => {
    expect(nextSort(null, 'l0')).toEqual({ key: 'l0', desc: false });
    expect(nextSort(null, 'explainedVariance')).toEqual({ key: 'explainedVariance', desc: true });
    expect(nextSort({ key: 'explainedVariance', desc: true }, 'explainedVariance')).toEqual({ key: 'explainedVariance', desc: false });
    expect(nextSort({ key: 'l0', desc: false }, 'name')).toEqual({ key: 'name', desc: false });
  });
});

describe('the view in the URL', () => {
  it('round-trips every view through its search params', () => {
    const id = fc.constantFrom(A, B, C);
    const view = fc.record({
      ids: fc.uniqueArray(id, { maxLength: 3 }),
      x: fc.constantFrom('step' as const, 'tokens' as const),
      log: fc.boolean(),
      smooth: fc.constantFrom(0, 0.3, 0.6, 0.95, 0.99),
      frontier: fc.constantFrom('explainedVariance' as const, 'ceLossRecovered' as const),
      sort: fc.option(fc.record({ key: fc.constantFrom<CompareSort['key']>('l0', 'name', 'ceLossRecovered'), desc: fc.boolean() }), { nil: null }),
    }) satisfies fc.Arbitrary<CompareView>;
    fc.assert(
      fc.property(view, (v) => {
        const params = Object.fromEntries(Object.entries(compareSearchParams(v)).filter(([, s]) => s !== undefined));
        expect(parseCompareView(params)).toEqual(v);
        // and through the address a link carries
        const href = compareHref(v);
        expect(parseCompareView(Object.fromEntries(new URL(href, 'http://x').searchParams))).toEqual(v);
      }),
      { seed: 4 },
    );
  });

  it('gives a plain address to the defaults and defaults to what is malformed', () => {
    expect(compareHref({ ids: [A, B] })).toBe(`/compare?ids=${A},${B}`);
    expect(compareHref({ ids: [] })).toBe('/compare');
    expect(parseCompareView({})).toEqual(DEFAULT_VIEW);
    expect(parseCompareView({ ids: ` ${A},,${B},${A} `, x: 'time', log: 'yes', smooth: '7', frontier: 'l0', sort: '-nope' })).toEqual({ ...DEFAULT_VIEW, ids: [A, B], smooth: 0.99 });
    expect(parseCompareView({ smooth: '-1' }).smooth).toBe(0);
    expect(parseCompareView({ sort: '-ceLossRecovered' }).sort).toEqual({ key: 'ceLossRecovered', desc: true });
  });

  it('asks the API what its contract takes', () => {
    const path = compareApiPath({ ids: [A, B], x: 'tokens' }, 300);
    const q = compareQuerySchema.parse(Object.fromEntries(new URL(path, 'http://x').searchParams));
    expect(q).toEqual({ ids: [A, B], x: 'tokens', points: 300 });
  });
});

describe('labels and settings', () => {
  it('names each run once: the hook when a training has several, a number when names repeat', () => {
    const labels = runLabels([
      { key: 't1:h1', trainingId: 't1', trainingName: 'wide', hook: 'h1' },
      { key: 't1:h2', trainingId: 't1', trainingName: 'wide', hook: 'h2' },
      { key: 't2:h1', trainingId: 't2', trainingName: 'narrow', hook: 'h1' },
      { key: 't3:h1', trainingId: 't3', trainingName: 'narrow', hook: 'h1' },
    ]);
    expect([...labels.values()]).toEqual(['wide · h1', 'wide · h2', 'narrow', 'narrow (2)']);
  });

  it('writes settings plainly', () => {
    expect(formatSetting(null)).toBe('–');
    expect(formatSetting(true)).toBe('yes');
    expect(formatSetting(0.0004)).toBe('0.0004');
    expect(formatSetting(25_600)).toBe('25,600');
    expect(formatSetting(256)).toBe('256');
    expect(formatSetting('topk')).toBe('topk');
  });
});
