/**
 * The median pruner (as Optuna's MedianPruner): a running trial stops when,
 * past its warm-up, its objective is worse than the median of what earlier
 * trials had reached by the same step.
 */

/** A trial's intermediate values: its objective's metric at the steps reported so far (steps ascending). */
export interface Curve {
  steps: number[];
  values: number[];
}

export interface PrunerOptions {
  /** steps before which a trial is never pruned */
  warmupSteps: number;
  /** earlier trials with a value by the step needed to prune (default {@link PRUNER_DEFAULTS}) */
  minTrials?: number;
}

export const PRUNER_DEFAULTS = { minTrials: 3 } as const;

/** A curve's value at its last step ≤ `step`, or null when it has none. */
function valueBy(curve: Curve, step: number): number | null {
  for (let i = curve.steps.length - 1; i >= 0; i--) if (curve.steps[i]! <= step) return curve.values[i]!;
  return null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Three significant digits, whole numbers from 1000 up. */
const fmt = (v: number) => (Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(3))));

/**
 * Whether to stop a running trial. It is pruned when its latest step is at
 * least `warmupSteps` and its value there is worse (below when maximising,
 * above when minimising) than the median of the earlier trials' values by
 * that step (each earlier trial's value at its last reported step ≤ that
 * step; trials without one, or whose value is NaN, don't count), provided at
 * least `minTrials` earlier trials count. A NaN value is pruned at once after
 * warm-up. `metricName`: the metric as the reason names it.
 * @returns the decision, and when pruning why, in words, e.g. "explained variance 0.41 at step 300, below the median 0.62 of 5 earlier trials at that step"; null when keeping.
 */
export function shouldPrune(
  curve: Curve,
  earlier: readonly Curve[],
  direction: 'maximize' | 'minimize',
  opts: PrunerOptions,
  metricName: string,
): { prune: boolean; reason: string | null } {
  const keep = { prune: false, reason: null };
  const last = curve.steps.length - 1;
  if (last < 0 || curve.steps[last]! < opts.warmupSteps) return keep;
  const step = curve.steps[last]!;
  const value = curve.values[last]!;
  if (Number.isNaN(value)) return { prune: true, reason: `${metricName} is not a number at step ${step}` };
  const others = earlier.map((c) => valueBy(c, step)).filter((v): v is number => v !== null && !Number.isNaN(v));
  if (others.length < (opts.minTrials ?? PRUNER_DEFAULTS.minTrials)) return keep;
  const m = median(others);
  if (direction === 'maximize' ? !(value < m) : !(value > m)) return keep;
  const trials = `${others.length} earlier trial${others.length === 1 ? '' : 's'}`;
  return { prune: true, reason: `${metricName} ${fmt(value)} at step ${step}, ${direction === 'maximize' ? 'below' : 'above'} the median ${fmt(m)} of ${trials} at that step` };
}
