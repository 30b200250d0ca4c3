import { describe, expect, it } from 'vitest';
import { appendPoint, fromHistory, latest, trimBefore, type ClientSeries } from './series.ts';

const empty = (): ClientSeries => ({ t: [], v: [], min: [], max: [] });

describe('client series', () => {
  it('appends points in their own buckets and merges points of the newest bucket', () => {
    const s = empty();
    appendPoint(s, 1000, 5, 10_000); // first point, kept on its own
    appendPoint(s, 2000, 7, 10_000); // same bucket as the first point, but the first point stays alone
    appendPoint(s, 4000, 1, 10_000); // merged into the 2000 entry
    appendPoint(s, 9000, 3, 10_000); // merged too
    appendPoint(s, 12_000, 9, 10_000); // next bucket
    expect(s).toEqual({ t: [1000, 9000, 12_000], v: [5, 3, 9], min: [5, 1, 9], max: [5, 7, 9] });
  });

  it('ignores points that are not newer than the newest entry', () => {
    const s = fromHistory({ t: [1, 2], min: [0, 0], max: [1, 1], last: [1, 0.5] });
    appendPoint(s, 2, 99, 1000);
    appendPoint(s, 1, 99, 1000);
    expect(s.v).toEqual([1, 0.5]);
    expect(latest(s)).toBe(0.5);
  });

  it('keeps every point when buckets are narrower than the sampling interval', () => {
    const s = empty();
    for (let i = 0; i < 5; i++) appendPoint(s, i * 2000, i, 1000);
    expect(s.v).toEqual([0, 1, 2, 3, 4]);
  });

  it('trims entries older than the window start', () => {
    const s = fromHistory({ t: [10, 20, 30, 40], min: [1, 2, 3, 4], max: [1, 2, 3, 4], last: [1, 2, 3, 4] });
    trimBefore(s, 25);
    expect(s).toEqual({ t: [30, 40], v: [3, 4], min: [3, 4], max: [3, 4] });
    trimBefore(s, 0);
    expect(s.t).toEqual([30, 40]);
    expect(latest(empty())).toBeUndefined();
  });
});
