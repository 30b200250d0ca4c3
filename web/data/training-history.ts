/**
 * The metric history of a training run: the API's pages and the WebSocket's
 * batches merged by step, without duplicates, drawn as downsampled series;
 * the checkpoints seen, and the density histogram's bars. Kept apart from the
 * store so they are tested without a browser.
 */
import type { EvalValues, MetricPoint, TrainingProgress, TrainMetricValues } from '../../models/contracts/trainings.ts';
import { downsample } from '../../models/series/downsample.ts';
import { formatFraction, formatInt, formatStat } from './training-view.ts';

/** Training metrics of a chart, in the order the page draws them. */
export const TRAIN_METRICS: readonly { key: keyof TrainMetricValues; title: string; format: (n: number) => string; yDomain?: [number, number] }[] = [
  { key: 'loss', title: 'Loss', format: formatStat },
  { key: 'mse', title: 'MSE', format: formatStat },
  { key: 'l1', title: 'L1', format: formatStat },
  { key: 'l0', title: 'L0 (active features a token)', format: formatStat },
  { key: 'explainedVariance', title: 'Explained variance', format: formatStat },
  { key: 'deadFraction', title: 'Dead features', format: formatFraction, yDomain: [0, 1] },
  { key: 'denseFraction', title: 'Dense features', format: formatFraction, yDomain: [0, 1] },
  { key: 'lr', title: 'Learning rate', format: formatStat },
  { key: 'tokensPerSecond', title: 'Tokens/s', format: formatInt },
];

/** One hook's history: training points by step (aligned columns) and evaluations by step. */
export interface HookHistory {
  steps: number[];
  tokens: number[];
  train: TrainMetricValues[];
  evalSteps: number[];
  evals: EvalValues[];
}

/** The metric history of a run, per hook. */
export interface TrainingHistory {
  hooks: Map<string, HookHistory>;
}

/** An empty history; fill it with {@link mergePoints}. */
export function createHistory(): TrainingHistory {
  return { hooks: new Map() };
}

/** Index of the first entry of ascending `a` not below `x`. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Puts `value` at `step` in aligned columns: replaced when the step is there, else inserted in order (appended, usually). */
function put<T>(steps: number[], values: T[], step: number, value: T, extra?: { col: number[]; v: number }): void {
  const n = steps.length;
  const i = n === 0 || steps[n - 1]! < step ? n : lowerBound(steps, step);
  if (i < n && steps[i] === step) {
    values[i] = value;
    if (extra) extra.col[i] = extra.v;
    return;
  }
  steps.splice(i, 0, step);
  values.splice(i, 0, value);
  extra?.col.splice(i, 0, extra.v);
}

/**
 * Merges metric points (an API page or a WebSocket batch, in any order) into
 * the history. A step seen before is replaced, never duplicated (a retried
 * run recomputes the points after its checkpoint, with the same values); a
 * point carries training metrics, an evaluation or both. Returns whether
 * anything was merged.
 */
export function mergePoints(h: TrainingHistory, points: readonly MetricPoint[]): boolean {
  for (const p of points) {
    let hook = h.hooks.get(p.hook);
    if (!hook) h.hooks.set(p.hook, (hook = { steps: [], tokens: [], train: [], evalSteps: [], evals: [] }));
    if (p.train) put(hook.steps, hook.train, p.step, p.train, { col: hook.tokens, v: p.tokens });
    if (p.eval) put(hook.evalSteps, hook.evals, p.step, p.eval);
  }
  return points.length > 0;
}

/** The newest step a hook has any point at, or -1. */
function lastStep(hook: HookHistory | undefined): number {
  if (!hook) return -1;
  return Math.max(hook.steps.at(-1) ?? -1, hook.evalSteps.at(-1) ?? -1);
}

/**
 * The `after` of a catch-up request (`GET …/metrics?after=`): the newest step
 * every hook of `hooks` has reached (-1 when one has nothing yet). Points
 * after it may be missing (missed while the socket was down); those at or
 * before it are there for every hook, as the job writes them step by step.
 */
export function catchUpAfter(h: TrainingHistory, hooks: readonly string[]): number {
  if (hooks.length === 0) return -1;
  return Math.min(...hooks.map((k) => lastStep(h.hooks.get(k))));
}

/** Training points of all hooks. */
export function pointCount(h: TrainingHistory): number {
  let n = 0;
  for (const k of h.hooks.values()) n += k.steps.length;
  return n;
}

/** One line of a chart: x (steps), values, and each bucket's extremes when downsampled. */
export interface StepSeries {
  label: string;
  t: number[];
  v: number[];
  min?: number[];
  max?: number[];
}

/** One series per hook of a training metric (in `hooks` order), downsampled to `maxPoints`. */
export function metricSeries(h: TrainingHistory, hooks: readonly string[], key: keyof TrainMetricValues, maxPoints: number): StepSeries[] {
  return hooks.flatMap((hook) => {
    const s = h.hooks.get(hook);
    if (!s || s.steps.length === 0) return [];
    return [{ label: hook, ...downsample(s.steps, s.train.map((m) => m[key]), maxPoints) }];
  });
}

/** One series per hook of CE-loss recovered at its evaluations (those that measured it). */
export function ceRecoveredSeries(h: TrainingHistory, hooks: readonly string[]): StepSeries[] {
  return hooks.flatMap((hook) => {
    const s = h.hooks.get(hook);
    const t: number[] = [];
    const v: number[] = [];
    s?.evals.forEach((e, i) => {
      if (e.ceLossRecovered === null) return;
      t.push(s.evalSteps[i]!);
      v.push(e.ceLossRecovered);
    });
    return t.length ? [{ label: hook, t, v }] : [];
  });
}

/** A hook's latest evaluation and its step, or undefined. */
export function latestEval(h: TrainingHistory, hook: string): { step: number; eval: EvalValues } | undefined {
  const s = h.hooks.get(hook);
  if (!s?.evals.length) return undefined;
  return { step: s.evalSteps.at(-1)!, eval: s.evals.at(-1)! };
}

/** A hook's latest training metrics and their step, or undefined. */
export function latestTrain(h: TrainingHistory, hook: string): { step: number; train: TrainMetricValues } | undefined {
  const s = h.hooks.get(hook);
  if (!s?.steps.length) return undefined;
  return { step: s.steps.at(-1)!, train: s.train.at(-1)! };
}

// ---------------------------------------------------------------------------
// Checkpoints and density

/** A checkpoint written: hook, step, time (ms since epoch). */
export type CheckpointEntry = TrainingProgress['checkpoints'][number];

/**
 * The checkpoints seen so far with those of a new progress (each hook's
 * latest), newest first, each (hook, step) once: the list grows while a page
 * watches a run. Only the latest of each hook is kept on disk.
 */
export function mergeCheckpoints(seen: readonly CheckpointEntry[], latest: readonly CheckpointEntry[]): CheckpointEntry[] {
  const key = (c: CheckpointEntry) => `${c.hook}@${c.step}`;
  const have = new Set(seen.map(key));
  const fresh = latest.filter((c) => !have.has(key(c)));
  if (fresh.length === 0) return seen as CheckpointEntry[];
  return [...fresh, ...seen].sort((a, b) => b.step - a.step || b.at - a.at || a.hook.localeCompare(b.hook));
}

/** One bar of a density histogram: the log10-frequency range and its feature count. */
export interface DensityBar {
  from: number;
  to: number;
  count: number;
}

/** The bars of an evaluation's density histogram (edges in log10 frequency). */
export function densityBars(d: EvalValues['density']): DensityBar[] {
  return d.counts.map((count, i) => ({ from: d.edges[i]!, to: d.edges[i + 1]!, count }));
}
