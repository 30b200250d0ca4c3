/**
 * What the sweep's coordinator (workers/sweep.ts) and its API
 * (server/routes/sweeps.ts) share about trials: the config a trial trains
 * with, the corners of a space checked before a sweep starts, and where a
 * sweep stands given its trials' scores.
 */
import type { MetricKey } from '../contracts/metrics.ts';
import type { SweepEvent, SweepProgress, SweepStatus, TrialStatus } from '../contracts/sweeps.ts';
import type { TrainConfigInput } from '../contracts/trainings.ts';
import { mergeTrainConfig } from '../sae/config.ts';
import { scoreTrial, type Objective } from './objective.ts';
import type { TrialRecord } from './propose.ts';
import type { Params, SearchSpace } from './space.ts';

/**
 * A trial's config before defaults: its params over the sweep's base (a
 * param on dSae or expansionFactor replaces the base's size). Resolve it as
 * every training is resolved (models/sae/config.ts resolveTrainConfig).
 * @example resolveTrainConfig([trialConfig(spec.base, { k: 64 })], rows)
 */
export function trialConfig(base: TrainConfigInput, params: Params): TrainConfigInput {
  // the space's keys are training settings and its values valid for them (space.ts searchSpaceSchema)
  return mergeTrainConfig([params as TrainConfigInput, base]);
}

/** One corner of a space: params, and for each key where in the space its value comes from (`min`, `max`, `values.2`). */
export interface Corner {
  params: Params;
  at: Record<string, string>;
}

/**
 * Every corner of a space: each range at its min and its max, each choice of
 * words or booleans at every value, each choice of numbers at its smallest
 * and largest; all their combinations. The limits a config must keep (k
 * below d_sae, a batch the stored rows fill, the memory it takes) grow or
 * shrink with each setting, so a space whose corners all keep them has no
 * point that breaks one. At most 4 × 3 × 2 × 2 × 2^8 corners (12 keys, four
 * of them the settings that are words or booleans).
 */
export function spaceCorners(space: SearchSpace): Corner[] {
  let corners: Corner[] = [{ params: {}, at: {} }];
  for (const [key, spec] of Object.entries(space)) {
    let options: [Params[string], string][];
    if (spec.type !== 'choice') options = [[spec.min, 'min'], [spec.max, 'max']];
    else if (spec.values.every((v) => typeof v === 'number')) {
      const nums = spec.values as number[];
      const lo = nums.indexOf(Math.min(...nums));
      const hi = nums.indexOf(Math.max(...nums));
      options = [...new Set([lo, hi])].map((i) => [nums[i]!, `values.${i}`]);
    } else options = spec.values.map((v, i) => [v, `values.${i}`]);
    corners = corners.flatMap((c) => options.map(([v, at]) => ({ params: { ...c.params, [key]: v }, at: { ...c.at, [key]: at } })));
  }
  return corners;
}

/** A trial's result by the objective (objective.ts scoreTrial). */
export type TrialResult = ReturnType<typeof scoreTrial>;

/** A trial as {@link sweepProgress} counts it: its status and, once its training has metrics, its result. */
export interface ScoredTrial {
  number: number;
  params: Params;
  status: TrialStatus;
  result: TrialResult | null;
}

/**
 * Each trial with its result, scored from its training's final metrics
 * (`finals`, by training id: every metric at the last point; a trial
 * without any gets null).
 */
export function scoreTrials<T extends Omit<ScoredTrial, 'result'> & { trainingId: string | null }>(
  objective: Objective,
  trials: readonly T[],
  finals: ReadonlyMap<string, Partial<Record<MetricKey, number | null>>>,
): (T & { result: TrialResult | null })[] {
  return trials.map((t) => {
    const metrics = t.trainingId ? finals.get(t.trainingId) : undefined;
    return { ...t, result: metrics ? scoreTrial(objective, metrics) : null };
  });
}

/** The trials as proposals read them: a completed or pruned trial's score from its final metrics. */
export function trialHistory(trials: readonly ScoredTrial[]): TrialRecord[] {
  return trials.map((t) => ({ number: t.number, params: t.params, state: t.status, score: t.result?.score ?? null }));
}

/**
 * Trials by status, and the best: the completed trial with the highest
 * score among those that keep the constraints (the lowest number on a tie).
 */
export function sweepProgress(trials: readonly ScoredTrial[]): SweepProgress {
  const count = (s: TrialStatus) => trials.filter((t) => t.status === s).length;
  let best: ScoredTrial | undefined;
  for (const t of trials) {
    const r = t.result;
    if (t.status !== 'completed' || !r?.feasible || r.score === null || r.value === null) continue;
    if (!best || r.score > best.result!.score! || (r.score === best.result!.score! && t.number < best.number)) best = t;
  }
  return {
    trials: trials.length,
    running: count('running'),
    completed: count('completed'),
    pruned: count('pruned'),
    failed: count('failed'),
    cancelled: count('cancelled'),
    best: best ? { number: best.number, value: best.result!.value!, params: best.params } : null,
  };
}

/** The payload of topic `sweep/{id}` for a sweep in `status` with `progress`. */
export function sweepEvent(sweep: { id: string; status: SweepStatus; error: string | null }, progress: SweepProgress): SweepEvent {
  return { id: sweep.id, status: sweep.status, progress, error: sweep.error, ts: Date.now() };
}
