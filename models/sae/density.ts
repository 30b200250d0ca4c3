/**
 * The feature-density histogram of an SAE: how often each feature fired over
 * a window of tokens, as a histogram of log10 of that frequency on fixed
 * edges (so that histograms of successive evaluations line up as the rows of
 * a heatmap), with the features that never fired counted apart.
 */

/** Lowest and highest log10 frequency of the fixed edges, and the bin width. */
export const DENSITY_LOG10_MIN = -8;
export const DENSITY_LOG10_MAX = 0;
export const DENSITY_BIN_WIDTH = 0.25;

/** A feature-density histogram over one window of tokens. */
export interface DensityHistogram {
  /** bin edges in log10 frequency, ascending: DENSITY_LOG10_MIN … DENSITY_LOG10_MAX (counts.length + 1 values) */
  edges: number[];
  /** features whose log10 frequency falls in [edges[i], edges[i + 1]) (the last bin includes 0, a feature firing on every token; below the first edge counts in the first bin) */
  counts: number[];
  /** features that did not fire once in the window */
  dead: number;
  /** tokens the window covered */
  tokens: number;
}

/** The fixed edges, computed once. */
const EDGES: readonly number[] = Array.from(
  { length: Math.round((DENSITY_LOG10_MAX - DENSITY_LOG10_MIN) / DENSITY_BIN_WIDTH) + 1 },
  (_, i) => DENSITY_LOG10_MIN + i * DENSITY_BIN_WIDTH,
);

/**
 * The histogram of `fired[s] / tokens` (tokens of the window on which feature
 * s fired) on the fixed edges.
 *
 * @example densityHistogram(Float64Array.of(0, 10, 1000), 1000) // dead 1; one feature at -2, one at 0
 */
export function densityHistogram(fired: ArrayLike<number>, tokens: number): DensityHistogram {
  const bins = EDGES.length - 1;
  const counts = new Array<number>(bins).fill(0);
  let dead = 0;
  for (let s = 0; s < fired.length; s++) {
    const f = fired[s]!;
    if (!(f > 0) || !(tokens > 0)) {
      dead++;
      continue;
    }
    const lg = Math.log10(Math.min(1, f / tokens));
    const i = Math.floor((lg - DENSITY_LOG10_MIN) / DENSITY_BIN_WIDTH);
    counts[Math.max(0, Math.min(bins - 1, i))]!++;
  }
  return { edges: [...EDGES], counts, dead, tokens };
}
