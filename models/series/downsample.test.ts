/**
 * The shared downsampler against a brute-force reference: on random series
 * of several sizes and x spacings, every bucket of the interior is drawn at
 * its last point with its own min and max, the first and last points are
 * kept as they are, and nothing else is drawn; the same input gives the same
 * output; a short series comes back unchanged.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../random.ts';
import { downsample, downsampleWithExtremes } from './downsample.ts';

/** A random series: ascending x with random gaps (some repeated x), values with outliers. */
function randomSeries(n: number, seed: number): { t: number[]; v: number[] } {
  const r = rng(seed);
  const t: number[] = [];
  const v: number[] = [];
  let x = Math.floor(r() * 100);
  for (let i = 0; i < n; i++) {
    t.push(x);
    v.push(r() < 0.02 ? (r() - 0.5) * 1e4 : Math.sin(i / 50) + r());
    x += r() < 0.05 ? 0 : Math.ceil(r() * 20);
  }
  return { t, v };
}

/**
 * The reference: the interior points grouped by bucket index (x's share of
 * the range times the bucket count, the last bucket closed), each group's
 * last point, min and max, between the first and last points.
 */
function reference(t: number[], v: number[], maxPoints: number) {
  const n = t.length;
  const count = maxPoints - 2;
  const span = t[n - 1]! - t[0]!;
  const groups = new Map<number, number[]>();
  for (let i = 1; i < n - 1; i++) {
    const b = Math.min(count - 1, Math.floor(((t[i]! - t[0]!) / span) * count));
    groups.set(b, [...(groups.get(b) ?? []), i]);
  }
  const out = { t: [t[0]!], v: [v[0]!], min: [v[0]!], max: [v[0]!] };
  for (const b of [...groups.keys()].sort((x, y) => x - y)) {
    const idx = groups.get(b)!;
    const last = idx.at(-1)!;
    out.t.push(t[last]!);
    out.v.push(v[last]!);
    out.min.push(Math.min(...idx.map((i) => v[i]!)));
    out.max.push(Math.max(...idx.map((i) => v[i]!)));
  }
  out.t.push(t[n - 1]!);
  out.v.push(v[n - 1]!);
  out.min.push(v[n - 1]!);
  out.max.push(v[n - 1]!);
  return out;
}

describe('downsample', () => {
  it('draws every bucket at its last point with its min and max, and keeps the first and last points, as a brute-force computation does', () => {
    for (const [n, maxPoints] of [
      [50, 10],
      [1000, 102],
      [5000, 400],
      [20_000, 2000],
      [401, 400],
    ] as const) {
      for (const seed of [1, 2, 3]) {
        const { t, v } = randomSeries(n, seed * 7919 + n);
        const d = downsample(t, v, maxPoints);
        const ref = reference(t, v, maxPoints);
        expect(d, `n ${n}, maxPoints ${maxPoints}, seed ${seed}`).toEqual(ref);
        expect(d.t.length).toBeLessThanOrEqual(maxPoints);
        expect([d.t[0], d.v[0]]).toEqual([t[0], v[0]]);
        expect([d.t.at(-1), d.v.at(-1)]).toEqual([t.at(-1), v.at(-1)]);
        // the extremes of the whole series survive
        expect(Math.max(...d.max!)).toBe(Math.max(...v));
        expect(Math.min(...d.min!)).toBe(Math.min(...v));
        expect(downsampleWithExtremes(t, v, maxPoints)).toEqual(ref);
      }
    }
  });

  it('is deterministic: the same series gives the same points', () => {
    const { t, v } = randomSeries(3000, 42);
    const a = downsample(t, v, 300);
    expect(downsample([...t], [...v], 300)).toEqual(a);
    expect(downsampleWithExtremes(t, v, 300)).toEqual(a);
  });

  it('returns a series of at most maxPoints points unchanged (min and max equal to the values in the variant that always has them)', () => {
    const { t, v } = randomSeries(100, 5);
    expect(downsample(t, v, 100)).toEqual({ t, v });
    expect(downsample(t, v, 1000)).toEqual({ t, v });
    expect(downsample([1, 2], [3, 4], 100)).toEqual({ t: [1, 2], v: [3, 4] });
    expect(downsample([], [], 10)).toEqual({ t: [], v: [] });
    expect(downsampleWithExtremes([1, 2], [3, 4], 100)).toEqual({ t: [1, 2], v: [3, 4], min: [3, 4], max: [3, 4] });
    // copies, not the caller's arrays
    const d = downsample(t, v, 100);
    expect(d.t).not.toBe(t);
    expect(d.v).not.toBe(v);
  });

  it('keeps a series whose x does not advance to the first point, one bucket and the last point', () => {
    const t = Array.from({ length: 50 }, () => 7);
    const v = Array.from({ length: 50 }, (_, i) => i % 9);
    expect(downsample(t, v, 10)).toEqual({ t: [7, 7, 7], v: [0, v[48]!, v[49]!], min: [0, 0, v[49]!], max: [0, 8, v[49]!] });
  });
});
