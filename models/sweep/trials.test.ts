/**
 * What the coordinator and the API share about trials: a trial's config
 * (its params over the base, the size replaced whole), the corners of a
 * space, and the progress with the best feasible completed trial.
 */
import { describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../sae/config.ts';
import { scoreTrial } from './objective.ts';
import { spaceCorners, sweepProgress, trialConfig, type ScoredTrial } from './trials.ts';

describe('sweep trials', () => {
  it('train with the params over the base, a swept size replacing the base\'s', () => {
    expect(trialConfig({ k: 8, lr: 1e-3, expansionFactor: 4 }, { k: 32 })).toEqual({ k: 32, lr: 1e-3, expansionFactor: 4 });
    expect(trialConfig({ expansionFactor: 4, batchSize: 256 }, { dSae: 512 })).toEqual({ dSae: 512, batchSize: 256 });
    expect(resolveTrainConfig([trialConfig({ dSae: 1024 }, { expansionFactor: 2 })], 100)).toMatchObject({ dSae: null, expansionFactor: 2, totalTokens: 100 });
  });

  it('span every corner: ranges at min and max, word choices at every value, number choices at their extremes', () => {
    const corners = spaceCorners({
      k: { type: 'int', min: 16, max: 128, log: true },
      lr: { type: 'choice', values: [3e-4, 1e-4, 1e-3] },
      architecture: { type: 'choice', values: ['topk', 'batchtopk', 'relu'] },
    });
    expect(corners).toHaveLength(2 * 2 * 3);
    expect(corners[0]).toEqual({ params: { k: 16, lr: 1e-4, architecture: 'topk' }, at: { k: 'min', lr: 'values.1', architecture: 'values.0' } });
    expect(corners.at(-1)).toEqual({ params: { k: 128, lr: 1e-3, architecture: 'relu' }, at: { k: 'max', lr: 'values.2', architecture: 'values.2' } });
    expect(new Set(corners.map((c) => JSON.stringify(c.params))).size).toBe(12);
    expect(spaceCorners({ batchSize: { type: 'choice', values: [256] } })).toEqual([{ params: { batchSize: 256 }, at: { batchSize: 'values.0' } }]);
  });

  it('count trials by status; the best is the completed one with the highest score that keeps the constraints', () => {
    const objective = { metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 40 }] } as const;
    const trial = (number: number, status: ScoredTrial['status'], ev?: number, l0?: number): ScoredTrial => ({
      number,
      params: { k: number },
      status,
      result: ev === undefined ? null : scoreTrial({ ...objective, constraints: [...objective.constraints] }, { explainedVariance: ev, l0 }),
    });
    const progress = sweepProgress([trial(0, 'completed', 0.7, 30), trial(1, 'completed', 0.9, 50), trial(2, 'pruned', 0.95, 20), trial(3, 'completed', 0.8, 40), trial(4, 'running', 0.99, 10), trial(5, 'failed')]);
    expect(progress).toEqual({ trials: 6, running: 1, completed: 3, pruned: 1, failed: 1, cancelled: 0, best: { number: 3, value: 0.8, params: { k: 3 } } });
    expect(sweepProgress([trial(0, 'completed', 0.9, 50)]).best).toBeNull();
    expect(sweepProgress([]).best).toBeNull();
  });
});
