/**
 * The sweep contracts: a request's space, budget and objective checked with
 * the field named as the API's 400 names it; the `sweep/{id}` topic.
 */
import { describe, expect, it } from 'vitest';
import { issueDetails } from './messages.ts';
import { createSweepSchema, sweepEventSchema } from './sweeps.ts';
import { topicSchema } from './topics.ts';

const ok = {
  extractionId: '00000000-0000-4000-8000-00000000e700',
  space: { k: { type: 'int', min: 16, max: 128, log: true }, lr: { type: 'float', min: 1e-4, max: 1e-2, log: true } },
  objective: { metric: 'explainedVariance', constraints: [{ metric: 'l0', op: '<=', value: 40 }] },
};

/** The fields a body's issues name, sorted. */
const fields = (body: unknown) => {
  const r = createSweepSchema.safeParse(body);
  return r.success ? [] : [...new Set(issueDetails(r.error).map((d) => d.field))].sort();
};

describe('sweep contracts', () => {
  it('resolve the defaults of a request: tpe, seed 0, parallelism 2, the objective\'s direction from the metric', () => {
    expect(createSweepSchema.parse(ok)).toMatchObject({ method: 'tpe', seed: 0, parallelism: 2, objective: { metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 40 }] } });
    expect(createSweepSchema.parse({ ...ok, objective: { metric: 'l0' } }).objective).toEqual({ metric: 'l0', direction: 'minimize', constraints: [] });
  });

  it('name the field of every bad space, budget and objective', () => {
    expect(fields({ ...ok, space: { depth: { type: 'int', min: 1, max: 4 } } })).toEqual(['space.depth']);
    expect(fields({ ...ok, space: { lr: { type: 'float', min: 1e-2, max: 1e-3 } } })).toEqual(['space.lr.max']);
    expect(fields({ ...ok, space: { k: { type: 'float', min: 8, max: 64 } } })).toEqual(['space.k']);
    expect(fields({ ...ok, space: { architecture: { type: 'choice', values: ['topk', 'gated'] } } })).toEqual(['space.architecture']);
    expect(fields({ ...ok, space: { metricsEvery: { type: 'int', min: 5, max: 50 } } })).toEqual(['space.metricsEvery']);
    expect(fields({ ...ok, space: { dSae: { type: 'int', min: 64, max: 512 }, expansionFactor: { type: 'float', min: 1, max: 4 } } })).toEqual(['space.expansionFactor']);
    expect(fields({ ...ok, space: {} })).toEqual(['space']);
    // a grid: at most its size (3 × 2 points), and a size above the trial limit needs a budget
    const grid = { ...ok, method: 'grid', space: { k: { type: 'choice', values: [16, 32, 64] }, lr: { type: 'float', min: 1e-4, max: 1e-3, points: 2 } } };
    expect(fields({ ...grid, budget: 6 })).toEqual([]);
    expect(fields({ ...grid, budget: 7 })).toEqual(['budget']);
    const huge = { ...ok, method: 'grid', space: { lr: { type: 'float', min: 1e-4, max: 1e-2, points: 100 }, l1Coefficient: { type: 'float', min: 1, max: 9, points: 6 } } };
    expect(fields(huge)).toEqual(['budget']);
    expect(fields({ ...huge, budget: 500 })).toEqual([]);
    expect(fields({ ...ok, budget: 501, parallelism: 0 })).toEqual(['budget', 'parallelism']);
    expect(fields({ ...ok, objective: { metric: 'sparsity' } })).toEqual(['objective.metric']);
    expect(fields({ ...ok, objective: { metric: 'ceLossClean' } })).toEqual(['objective.direction']);
    expect(fields({ ...ok, objective: { metric: 'l0', constraints: [{ metric: 'l0', op: '<', value: 1 }] } })).toEqual(['objective.constraints.0.op']);
    expect(fields({ ...ok, base: { k: 0 }, pruner: { warmupSteps: -1 }, colour: 'red' })).toEqual(['base.k', 'colour', 'pruner.warmupSteps']);
  });

  it('give sweep/{id} the event schema', () => {
    const schema = topicSchema('sweep/00000000-0000-4000-8000-00000000e701')!;
    expect(schema).toBe(sweepEventSchema);
    const progress = { trials: 3, running: 1, completed: 1, pruned: 1, failed: 0, cancelled: 0, best: { number: 0, value: 0.8, params: { k: 32 } } };
    expect(schema.safeParse({ id: 's', status: 'running', progress, error: null, ts: 1 }).success).toBe(true);
    expect(schema.safeParse({ id: 's', status: 'running', progress: { trials: 3 }, error: null, ts: 1 }).success).toBe(false);
  });
});
