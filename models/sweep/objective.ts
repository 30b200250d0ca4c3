/**
 * A sweep's objective: the metric to maximise or minimise, under constraints
 * on other metrics, and the score that ranks trials by it.
 */
import { z } from 'zod';
import { metricDef, metricKeySchema, type MetricKey } from '../contracts/metrics.ts';

export const MAX_CONSTRAINTS = 4;

/**
 * Scores of feasible trials lie in [-SCORE_BOUND, SCORE_BOUND], of infeasible
 * ones in [-3·SCORE_BOUND, -2·SCORE_BOUND) (see {@link scoreTrial}).
 */
export const SCORE_BOUND = 1e9;

/** A bound a trial's final metric must keep to. */
export interface Constraint {
  metric: MetricKey;
  op: '<=' | '>=';
  value: number;
}

/** What a sweep optimises (see {@link objectiveSchema}). */
export interface Objective {
  metric: MetricKey;
  direction: 'maximize' | 'minimize';
  constraints: Constraint[];
}

export const constraintSchema = z.object({ metric: metricKeySchema, op: z.enum(['<=', '>=']), value: z.number() }).strict();

/**
 * An objective as a request gives it: `direction` may be left out for a
 * metric with a better direction (higher → maximize, lower → minimize), and
 * must be given for one without (a CE loss, a schedule); 0 to 4 constraints.
 */
export const objectiveSchema = z
  .object({
    metric: metricKeySchema,
    direction: z.enum(['maximize', 'minimize']).optional(),
    constraints: z.array(constraintSchema).max(MAX_CONSTRAINTS, `an objective takes at most ${MAX_CONSTRAINTS} constraints`).default([]),
  })
  .strict()
  .transform((o, ctx): Objective => {
    const better = metricDef(o.metric).better;
    const direction = o.direction ?? (better === 'higher' ? 'maximize' : better === 'lower' ? 'minimize' : undefined);
    if (!direction) {
      ctx.addIssue({ code: 'custom', path: ['direction'], message: `${metricDef(o.metric).name} is neither better high nor low: give direction (maximize or minimize)` });
      return z.NEVER;
    }
    return { metric: o.metric, direction, constraints: o.constraints };
  });

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * How far a metric value `v` breaks constraint `c`: 0 when it holds, else
 * the excess relative to the bound (absolute when the bound is 0), so that
 * constraints in different units add up; a missing value counts as
 * SCORE_BOUND, worse than any measured one.
 */
function violation(c: Constraint, v: number | null): number {
  if (v === null) return SCORE_BOUND;
  const excess = c.op === '<=' ? v - c.value : c.value - v;
  return excess <= 0 ? 0 : excess / (c.value === 0 ? 1 : Math.abs(c.value));
}

/**
 * A trial's result from its final metrics: `value`, the objective's metric
 * (null when missing or not finite); `feasible`, whether every constraint
 * holds (a constraint whose metric is missing does not); `score`, higher is
 * better, null when value is: a feasible trial scores its value (negated when
 * minimising) clipped to ±SCORE_BOUND; an infeasible one −2·SCORE_BOUND minus
 * its total violation (capped at SCORE_BOUND), so it ranks below every
 * feasible trial, and below the infeasible ones that break the constraints
 * less. Monotone in the value and in each violation.
 * @example scoreTrial({ metric: 'l0', direction: 'minimize', constraints: [] }, { l0: 31 }) // { value: 31, feasible: true, score: -31 }
 */
export function scoreTrial(obj: Objective, metrics: Partial<Record<MetricKey, number | null>>): { value: number | null; feasible: boolean; score: number | null } {
  const value = finite(metrics[obj.metric]);
  const violations = obj.constraints.map((c) => violation(c, finite(metrics[c.metric])));
  const feasible = violations.every((v) => v === 0);
  if (value === null) return { value, feasible, score: null };
  if (feasible) {
    const signed = obj.direction === 'maximize' ? value : -value;
    return { value, feasible, score: Math.min(SCORE_BOUND, Math.max(-SCORE_BOUND, signed)) };
  }
  const total = violations.reduce((a, b) => a + b, 0);
  return { value, feasible, score: -2 * SCORE_BOUND - Math.min(SCORE_BOUND, total) };
}

/**
 * The objective in words, with the metrics' names.
 * @example describeObjective({ metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 40 }] }) // "max explained variance with L0 ≤ 40"
 */
export function describeObjective(obj: Objective): string {
  const head = `${obj.direction === 'maximize' ? 'max' : 'min'} ${metricDef(obj.metric).name}`;
  if (obj.constraints.length === 0) return head;
  const bounds = obj.constraints.map((c) => `${metricDef(c.metric).name} ${c.op === '<=' ? '≤' : '≥'} ${c.value}`);
  return `${head} with ${bounds.join(' and ')}`;
}
