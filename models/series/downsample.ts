/**
 * Deterministic downsampling of a series for a chart, shared by the server
 * (`GET /api/trainings/compare`) and the browser (a run's live charts): the
 * x range in equal buckets, each drawn at its last point with its min and
 * max; the first and last points always kept as they are. The same series
 * always draws the same chart (no random sampling), and the newest value is
 * exact. Browser-safe: plain arithmetic, no imports.
 */

/** A downsampled series: x, values, and each bucket's extremes (absent where nothing was downsampled). */
export interface Downsampled {
  t: number[];
  v: number[];
  min?: number[];
  max?: number[];
}

/** A downsampled series with its extremes always present (equal to `v` where nothing was downsampled). */
export interface DownsampledWithExtremes {
  t: number[];
  v: number[];
  min: number[];
  max: number[];
}

/**
 * At most `maxPoints` points of a series, deterministically: the interior of
 * the x range (between the first and last points) in `maxPoints − 2` equal
 * buckets, each drawn at its last point with the min and max of its values;
 * the first and last points are kept as they are. A series of at most
 * `maxPoints` points (or a `maxPoints` below 3) comes back unchanged (copied).
 *
 * @param t x of each point, ascending (steps, tokens, ms)
 * @param v the value at each x, `v.length === t.length`
 * @param maxPoints the most points returned (about one per pixel of the chart)
 * @example downsample(steps, losses, 400) // {t, v, min, max} of ≤ 400 points
 */
export function downsample(t: readonly number[], v: readonly number[], maxPoints: number): Downsampled {
  const n = t.length;
  if (n <= maxPoints || maxPoints < 3) return { t: [...t], v: [...v] };
  return buckets(t, v, maxPoints);
}

/**
 * {@link downsample} with `min` and `max` always given: where nothing is
 * downsampled they are copies of `v` (each point its own bucket), as an API
 * answer whose schema requires them wants.
 */
export function downsampleWithExtremes(t: readonly number[], v: readonly number[], maxPoints: number): DownsampledWithExtremes {
  const n = t.length;
  if (n <= maxPoints || maxPoints < 3) return { t: [...t], v: [...v], min: [...v], max: [...v] };
  return buckets(t, v, maxPoints);
}

/** The bucketing itself, for n > maxPoints ≥ 3. */
function buckets(t: readonly number[], v: readonly number[], maxPoints: number): DownsampledWithExtremes {
  const n = t.length;
  const first = t[0]!;
  const span = t[n - 1]! - first;
  const count = maxPoints - 2;
  const out = { t: [first], v: [v[0]!], min: [v[0]!], max: [v[0]!] };
  let bucket = -1;
  for (let i = 1; i < n - 1; i++) {
    // a series whose x does not advance (span 0) is one bucket, rather than NaN buckets that would keep every point
    const b = span > 0 ? Math.min(count - 1, Math.floor(((t[i]! - first) / span) * count)) : 0;
    const val = v[i]!;
    if (b !== bucket) {
      bucket = b;
      out.t.push(t[i]!);
      out.v.push(val);
      out.min.push(val);
      out.max.push(val);
      continue;
    }
    const j = out.t.length - 1;
    out.t[j] = t[i]!;
    out.v[j] = val;
    if (val < out.min[j]!) out.min[j] = val;
    if (val > out.max[j]!) out.max[j] = val;
  }
  out.t.push(t[n - 1]!);
  out.v.push(v[n - 1]!);
  out.min.push(v[n - 1]!);
  out.max.push(v[n - 1]!);
  return out;
}
