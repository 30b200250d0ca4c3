/**
 * The training contracts against what they describe: the trainer's config
 * and metrics (models/sae/train.ts), the SAE architectures, the database's
 * statuses, and the `training/{id}` topic.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { SAE_ARCHITECTURES } from '../sae/graph.ts';
import { resolveTrainConfig, toTrainConfig } from '../sae/config.ts';
import { TRAIN_DEFAULTS, type TrainConfig, type TrainMetrics } from '../sae/train.ts';
import { ARTIFACT_STATUSES, topicSchema } from './topics.ts';
import { SAE_ARCHITECTURE_NAMES, TRAINING_STATUSES, trainConfigInputSchema, trainConfigSchema, type TrainConfigResolved, type TrainMetricValues } from './trainings.ts';

describe('training contracts', () => {
  it('name the same statuses and architectures as the rest of Loupe', () => {
    expect([...TRAINING_STATUSES]).toEqual([...ARTIFACT_STATUSES]);
    expect([...SAE_ARCHITECTURE_NAMES]).toEqual([...SAE_ARCHITECTURES]);
  });

  it('describe every field of the trainer\'s config and metrics', () => {
    // every trainer setting is a field of the API's config (and evalWindows, which the job reads)
    const trainer = new Set<string>([...Object.keys(TRAIN_DEFAULTS), 'architecture', 'dSae', 'expansionFactor', 'totalTokens']);
    expect(Object.keys(trainConfigSchema.shape).sort()).toEqual([...trainer, 'evalWindows'].sort());
    expectTypeOf<keyof TrainMetricValues>().toEqualTypeOf<Exclude<keyof TrainMetrics, 'hook' | 'step' | 'tokens'>>();
    expectTypeOf<Omit<TrainConfigResolved, 'dSae' | 'expansionFactor' | 'evalWindows'>>().toMatchTypeOf<Omit<TrainConfig, 'dSae' | 'expansionFactor'>>();
  });

  it('resolve defaults, with body over template and one of dSae and expansionFactor', () => {
    const c = resolveTrainConfig([{ lr: 1e-3 }, { lr: 5e-4, k: 8, expansionFactor: 4 }], 5000);
    expect(trainConfigSchema.parse(c)).toMatchObject({ architecture: 'topk', lr: 1e-3, k: 8, dSae: null, expansionFactor: 4, totalTokens: 5000, batchSize: TRAIN_DEFAULTS.batchSize });
    expect(resolveTrainConfig([{ dSae: 100 }, { expansionFactor: 4 }], 1)).toMatchObject({ dSae: 100, expansionFactor: null });
    expect(toTrainConfig(resolveTrainConfig([{ dSae: 100 }], 1))).not.toHaveProperty('expansionFactor');
    expect(trainConfigInputSchema.safeParse({ dSae: 10, expansionFactor: 2 }).error?.issues[0]?.path).toEqual(['dSae']);
  });

  it('give training/{id} a schema: progress and metric batches pass, anything else does not', () => {
    const schema = topicSchema('training/00000000-0000-4000-8000-00000000f1e0')!;
    const progress = { type: 'progress', id: 't', status: 'running', phase: 'training', step: 3, totalSteps: 9, tokens: 30, totalTokens: 90, tokensPerSecond: 10, etaSeconds: 6, resumedAt: 0, checkpoints: [{ hook: 'h', step: 2, at: 1 }], stopped: false, error: null, ts: 1 };
    expect(schema.safeParse(progress).success).toBe(true);
    const point = { hook: 'h', step: 5, tokens: 50, ts: 1, train: null, eval: { density: { edges: [-1, 0], counts: [2], dead: 1, tokens: 50 }, ceLossClean: null, ceLossSpliced: null, ceLossZero: null, ceLossRecovered: null } };
    expect(schema.safeParse({ type: 'metrics', id: 't', points: [point] }).success).toBe(true);
    expect(schema.safeParse({ type: 'metrics', id: 't', points: [{ ...point, step: 'five' }] }).success).toBe(false);
    expect(schema.safeParse({ step: 3 }).success).toBe(false);
  });
});
