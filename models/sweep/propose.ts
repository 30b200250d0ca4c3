/**
 * The one call a sweep's coordinator makes for a new trial's settings, by
 * the sweep's method: the next grid point, a uniform draw, or TPE's
 * proposal from the trials finished so far.
 */
import { rng, seedOf } from '../random.ts';
import { gridPoint, sampleRandom, type Params, type SearchSpace } from './space.ts';
import { sampleTpe, type Observation } from './tpe.ts';

export const SWEEP_METHODS = ['grid', 'random', 'tpe'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

export const TRIAL_STATES = ['running', 'completed', 'pruned', 'failed', 'cancelled'] as const;

/** A trial of the sweep as proposals read it. */
export interface TrialRecord {
  /** 0-based, in the order trials were proposed */
  number: number;
  params: Params;
  state: (typeof TRIAL_STATES)[number];
  /** higher is better (objective.ts `scoreTrial`); a pruned trial's from its last intermediate metrics; null when unknown */
  score: number | null;
}

/**
 * What TPE learns from: completed and pruned trials with a score, in trial
 * order (running, failed and cancelled ones, and those without a score, say
 * nothing about the objective).
 */
function observationsOf(history: readonly TrialRecord[]): Observation[] {
  return history
    .filter((t) => (t.state === 'completed' || t.state === 'pruned') && t.score !== null && Number.isFinite(t.score))
    .sort((a, b) => a.number - b.number)
    .map((t) => ({ params: t.params, score: t.score! }));
}

/**
 * The params of trial `number` (0-based), deterministic in (method, space,
 * seed, number, the finished trials' params and scores). grid: grid point
 * `number` (space.ts `gridPoint`; a RangeError past the grid's end). random:
 * a uniform draw from a generator seeded by (seed, number). tpe: TPE's
 * proposal from the finished trials (tpe.ts `sampleTpe`; the same draw as
 * random while fewer than 10 have finished), with that generator.
 */
export function proposeTrial(method: SweepMethod, space: SearchSpace, seed: number, number: number, history: readonly TrialRecord[]): Params {
  if (method === 'grid') return gridPoint(space, number);
  const random = rng(seedOf(seed, number));
  if (method === 'random') return sampleRandom(space, random);
  return sampleTpe(space, observationsOf(history), random);
}
