/** The objective: its schema's defaults and messages, scores and their order, and its description. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { describeObjective, objectiveSchema, scoreTrial, SCORE_BOUND, type Objective } from './objective.ts';

const evWithL0: Objective = { metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 40 }] };

describe('objective schema', () => {
  it('takes the direction from the metric, and its output is an Objective', () => {
    expect(objectiveSchema.parse({ metric: 'explainedVariance' })).toEqual({ metric: 'explainedVariance', direction: 'maximize', constraints: [] });
    expect(objectiveSchema.parse({ metric: 'mse' }).direction).toBe('minimize');
    expect(objectiveSchema.parse({ metric: 'mse', direction: 'maximize' }).direction).toBe('maximize');
    expect(objectiveSchema.parse({ metric: 'ceLossClean', direction: 'minimize' }).direction).toBe('minimize');
    expectTypeOf<z.output<typeof objectiveSchema>>().toEqualTypeOf<Objective>();
  });

  it('names the field at fault', () => {
    const issue = (o: unknown) => objectiveSchema.safeParse(o).error?.issues[0];
    expect(issue({ metric: 'ceLossClean' })).toMatchObject({ path: ['direction'], message: expect.stringContaining('give direction') });
    expect(issue({ metric: 'perplexity' })?.path).toEqual(['metric']);
    const five = Array(5).fill({ metric: 'l0', op: '<=', value: 40 });
    expect(issue({ metric: 'mse', constraints: five })).toMatchObject({ path: ['constraints'], message: 'an objective takes at most 4 constraints' });
    expect(issue({ metric: 'mse', constraints: [{ metric: 'l0', op: '<', value: 40 }] })?.path).toEqual(['constraints', 0, 'op']);
  });
});

describe('scoreTrial', () => {
  it('scores the value, negated when minimising', () => {
    expect(scoreTrial(evWithL0, { explainedVariance: 0.8, l0: 30 })).toEqual({ value: 0.8, feasible: true, score: 0.8 });
    expect(scoreTrial({ metric: 'mse', direction: 'minimize', constraints: [] }, { mse: 2.5 })).toEqual({ value: 2.5, feasible: true, score: -2.5 });
    expect(scoreTrial(evWithL0, { l0: 30 })).toEqual({ value: null, feasible: true, score: null });
    expect(scoreTrial(evWithL0, { explainedVariance: NaN, l0: 30 }).score).toBeNull();
  });

  it('ranks every feasible trial above every infeasible one, those by total violation', () => {
    const rank = (metrics: Record<string, number>[]) => metrics.map((m) => scoreTrial(evWithL0, m).score!);
    const [worstFeasible, best, slightly, badly] = rank([{ explainedVariance: -1e12, l0: 40 }, { explainedVariance: 0.99, l0: 10 }, { explainedVariance: 0.5, l0: 44 }, { explainedVariance: 0.99, l0: 80 }]);
    expect(best).toBeGreaterThan(worstFeasible!);
    expect(worstFeasible).toBe(-SCORE_BOUND);
    expect(worstFeasible).toBeGreaterThan(slightly!);
    expect(slightly).toBeGreaterThan(badly!);
    // violations relative to the bound: L0 44 against ≤ 40 is 0.1; 80 is 1
    expect(slightly).toBe(-2 * SCORE_BOUND - 0.1);
    expect(badly).toBe(-2 * SCORE_BOUND - 1);
    expect(scoreTrial(evWithL0, { explainedVariance: 0.99, l0: 80 }).feasible).toBe(false);
  });

  it('adds violations across constraints, and counts a missing constraint metric as the worst', () => {
    const obj: Objective = { metric: 'mse', direction: 'minimize', constraints: [{ metric: 'l0', op: '<=', value: 40 }, { metric: 'explainedVariance', op: '>=', value: 0.5 }] };
    // 0.25 + 0.5
    expect(scoreTrial(obj, { mse: 1, l0: 50, explainedVariance: 0.25 }).score).toBeCloseTo(-2 * SCORE_BOUND - 0.75, 5);
    const missing = scoreTrial(obj, { mse: 1, l0: 50 });
    expect(missing.feasible).toBe(false);
    expect(missing.score).toBe(-3 * SCORE_BOUND);
    expect(Number.isFinite(missing.score)).toBe(true);
    // a bound of 0 counts the excess as it is
    const zero: Objective = { metric: 'mse', direction: 'minimize', constraints: [{ metric: 'deadFraction', op: '<=', value: 0 }] };
    expect(scoreTrial(zero, { mse: 1, deadFraction: 0.25 }).score).toBe(-2 * SCORE_BOUND - 0.25);
  });
});

describe('describeObjective', () => {
  it('says it with the metrics\' names', () => {
    expect(describeObjective(evWithL0)).toBe('max explained variance with L0 ≤ 40');
    expect(describeObjective({ metric: 'mse', direction: 'minimize', constraints: [] })).toBe('min MSE');
    expect(describeObjective({ metric: 'mse', direction: 'minimize', constraints: [{ metric: 'l0', op: '<=', value: 64 }, { metric: 'deadFraction', op: '<=', value: 0.05 }] })).toBe('min MSE with L0 ≤ 64 and dead features ≤ 0.05');
  });
});
