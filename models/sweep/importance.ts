/**
 * Which parameters of a sweep mattered: for each, the share of the score's
 * variance its value explains (one-way ANOVA's correlation ratio η²).
 */
import type { ParamSpec, ParamValue, Params, SearchSpace } from './space.ts';

/** Bins a range's values fall into (by quantile). */
const RANGE_BINS = 4;

/**
 * The group of each value: a choice's value itself; a range's quantile bin
 * (up to RANGE_BINS, fewer when values repeat: equal values share a bin).
 * Quantiles do not change under a log, so log ranges need no transform.
 * A value missing from a trial's params is a group of its own.
 */
function groupsOf(spec: ParamSpec, values: (ParamValue | undefined)[]): string[] {
  if (spec.type === 'choice') return values.map((v) => `${typeof v}:${String(v)}`);
  const sorted = values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  const edges = [...new Set(Array.from({ length: RANGE_BINS - 1 }, (_, k) => sorted[Math.floor(((k + 1) * sorted.length) / RANGE_BINS)]!))];
  return values.map((v) => (typeof v === 'number' ? `bin ${edges.filter((e) => e <= v).length}` : 'missing'));
}

/** η²: the between-group sum of squares over the total (`total` > 0). */
function etaSquared(groups: string[], scores: number[], mean: number, total: number): number {
  const sums = new Map<string, { n: number; sum: number }>();
  groups.forEach((g, i) => {
    const s = sums.get(g) ?? { n: 0, sum: 0 };
    s.n++;
    s.sum += scores[i]!;
    sums.set(g, s);
  });
  let between = 0;
  for (const { n, sum } of sums.values()) between += n * (sum / n - mean) ** 2;
  return between / total;
}

/**
 * Each parameter's importance: η² of the trials' scores grouped by its
 * value (ranges in up to 4 quantile bins, choices by value), normalised to
 * sum to 1 over the parameters. Every importance is 0 with fewer than 3
 * scored trials or when the scores do not vary. Trials whose score is null
 * are left out. Deterministic.
 * @returns space's keys (in its order) to importance in [0, 1]
 */
export function paramImportance(space: SearchSpace, trials: readonly { params: Params; score: number | null }[]): Record<string, number> {
  const keys = Object.keys(space);
  const zero = Object.fromEntries(keys.map((k) => [k, 0]));
  const scored = trials.filter((t): t is { params: Params; score: number } => t.score !== null && Number.isFinite(t.score));
  const scores = scored.map((t) => t.score);
  if (scored.length < 3 || scores.every((s) => s === scores[0])) return zero;
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const total = scores.reduce((a, s) => a + (s - mean) ** 2, 0);
  const eta = keys.map((k) => etaSquared(groupsOf(space[k]!, scored.map((t) => t.params[k])), scores, mean, total));
  const sum = eta.reduce((a, b) => a + b, 0);
  if (sum === 0) return zero;
  return Object.fromEntries(keys.map((k, i) => [k, eta[i]! / sum]));
}
