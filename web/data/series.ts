/**
 * Client-side time series: history from the API, extended by live points.
 * Pure functions, shared by the System store and its tests.
 */
import type { Series } from '../../models/contracts/api.ts';

/** One series as the charts draw it: times (ms), value, and the bucket's min/max band. */
export interface ClientSeries {
  t: number[];
  v: number[];
  min: number[];
  max: number[];
}

/** Converts a history series (last value per bucket) into a client series. */
export function fromHistory(s: Series): ClientSeries {
  return { t: [...s.t], v: [...s.last], min: [...s.min], max: [...s.max] };
}

/**
 * Adds a live point. With `bucketMs` wider than the sampling interval, a point
 * that falls in the same epoch-aligned bucket as the newest entry is merged
 * into it (min, max, last), as the server's downsampling would have done, so
 * a page left open does not grow without bound. Points not newer than the
 * newest entry are ignored (a duplicate delivery, or history already had it).
 */
export function appendPoint(s: ClientSeries, t: number, value: number, bucketMs: number): void {
  const n = s.t.length;
  const lastT = n > 0 ? s.t[n - 1]! : -Infinity;
  if (t <= lastT) return;
  // Merge only into a bucket entry, never into the series' first point (kept on its own).
  if (n > 1 && Math.floor(t / bucketMs) === Math.floor(lastT / bucketMs)) {
    s.t[n - 1] = t;
    s.v[n - 1] = value;
    s.min[n - 1] = Math.min(s.min[n - 1]!, value);
    s.max[n - 1] = Math.max(s.max[n - 1]!, value);
    return;
  }
  s.t.push(t);
  s.v.push(value);
  s.min.push(value);
  s.max.push(value);
}

/** Drops entries older than `from` (ms), keeping the arrays aligned. */
export function trimBefore(s: ClientSeries, from: number): void {
  let i = 0;
  while (i < s.t.length && s.t[i]! < from) i++;
  if (i === 0) return;
  s.t.splice(0, i);
  s.v.splice(0, i);
  s.min.splice(0, i);
  s.max.splice(0, i);
}

/** The newest value of a series, or undefined when it is empty. */
export function latest(s: ClientSeries | undefined): number | undefined {
  return s && s.v.length ? s.v[s.v.length - 1] : undefined;
}
