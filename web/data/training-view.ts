/**
 * Pure helpers of the Training page: the new-training form (defaults, which
 * fields an architecture uses, the request and template bodies), live
 * progress merged into a run, labels, and the metric history of a run (the
 * API's pages and the WebSocket's batches merged by step, without duplicates,
 * drawn as downsampled series). Kept apart from the store so they are tested
 * without a browser.
 */
import {
  SAE_ARCHITECTURE_NAMES,
  TRAINING_LIMITS,
  type CreateTraining,
  type EvalValues,
  type MetricPoint,
  type TrainConfigInput,
  type TrainConfigResolved,
  type TrainMetricValues,
  type Training,
  type TrainingProgress,
  type TrainingTemplateSettings,
} from '../../models/contracts/trainings.ts';
import { percent } from './model-view.ts';

export type SaeArchitectureName = (typeof SAE_ARCHITECTURE_NAMES)[number];

/** Statuses in which a run may still change by itself (a job has it or will take it). */
export function isActive(status: Training['status']): boolean {
  return status === 'queued' || status === 'running';
}

/** TopK and BatchTopK choose k features a token (on average for BatchTopK). */
export function usesK(a: SaeArchitectureName): boolean {
  return a === 'topk' || a === 'batchtopk';
}

/** ReLU (L1 penalty) and JumpReLU (L0 penalty) have a sparsity coefficient and its warm-up. */
export function usesSparsityPenalty(a: SaeArchitectureName): boolean {
  return a === 'relu' || a === 'jumprelu';
}

/** JumpReLU's initial threshold and pseudo-derivative bandwidth. */
export function usesThreshold(a: SaeArchitectureName): boolean {
  return a === 'jumprelu';
}

/**
 * The trainer's defaults as the API applies them (TRAIN_DEFAULTS of
 * models/sae/train.ts and TRAINING_LIMITS.DEFAULT_EVAL_WINDOWS, through
 * resolveTrainConfig; a node test keeps this copy equal to them, since the
 * trainer's module is not browser code). totalTokens has no fixed default:
 * one pass over the stored rows.
 */
export const TRAIN_FORM_DEFAULTS: Omit<TrainConfigResolved, 'totalTokens' | 'dSae'> = {
  architecture: 'topk',
  expansionFactor: 8,
  k: 32,
  l1Coefficient: 5,
  l1WarmupSteps: 0,
  initThreshold: 0.001,
  bandwidth: 0.001,
  lr: 4e-4,
  lrWarmupSteps: 0,
  lrDecayFraction: 0.2,
  beta1: 0.9,
  beta2: 0.999,
  batchSize: 1024,
  normalizeInputs: true,
  bDecInit: 'mean',
  normalizeDecoder: false,
  deadFeatureWindow: 1_000_000,
  denseThreshold: 0.1,
  seed: 42,
  metricsEvery: 10,
  checkpointEvery: 500,
  evalEvery: 500,
  evalWindows: TRAINING_LIMITS.DEFAULT_EVAL_WINDOWS,
  mixingShards: 4,
};

/** The numeric config fields the form holds as typed text. */
export const NUMBER_FIELDS = [
  'k',
  'l1Coefficient',
  'l1WarmupSteps',
  'initThreshold',
  'bandwidth',
  'lr',
  'lrWarmupSteps',
  'lrDecayFraction',
  'beta1',
  'beta2',
  'batchSize',
  'totalTokens',
  'deadFeatureWindow',
  'denseThreshold',
  'seed',
  'metricsEvery',
  'checkpointEvery',
  'evalEvery',
  'evalWindows',
  'mixingShards',
] as const;
export type NumberField = (typeof NUMBER_FIELDS)[number];

/** What the new-training form holds: numbers as the text the user typed. */
export type TrainingForm = {
  extractionId: string;
  hookPoints: string[];
  /** empty: the server's name (architecture, size, hooks) */
  name: string;
  architecture: SaeArchitectureName;
  sizeMode: 'expansionFactor' | 'dSae';
  dSae: string;
  expansionFactor: string;
  normalizeInputs: boolean;
  bDecInit: TrainConfigResolved['bDecInit'];
  normalizeDecoder: boolean;
} & Record<NumberField, string>;

/** The form at the API's defaults (no extraction chosen, total tokens: one pass). */
export function initialTrainingForm(): TrainingForm {
  const d = TRAIN_FORM_DEFAULTS;
  const text = Object.fromEntries(NUMBER_FIELDS.map((k) => [k, k === 'totalTokens' ? '' : String(d[k])])) as Record<NumberField, string>;
  return {
    extractionId: '',
    hookPoints: [],
    name: '',
    architecture: d.architecture,
    sizeMode: 'expansionFactor',
    dSae: '',
    expansionFactor: String(d.expansionFactor),
    normalizeInputs: d.normalizeInputs,
    bDecInit: d.bDecInit,
    normalizeDecoder: d.normalizeDecoder,
    ...text,
  };
}

/**
 * A typed number (`4e-4`, `1,024`, `0.2`), undefined for an empty field, or
 * the text itself when it is not a number: the server's validation then names
 * the field with its message, as for any other bad value.
 */
export function parseNumber(s: string): number | undefined {
  const t = s.trim().replace(/[\s,_]/g, '');
  if (t === '') return undefined;
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : (t as unknown as number);
}

/** The config of the form: the fields its architecture uses, the size it was given, every typed number. */
export function formConfig(f: TrainingForm): TrainConfigInput {
  const out: TrainConfigInput = {
    architecture: f.architecture,
    normalizeInputs: f.normalizeInputs,
    bDecInit: f.bDecInit,
    normalizeDecoder: f.normalizeDecoder,
  };
  const size = parseNumber(f.sizeMode === 'dSae' ? f.dSae : f.expansionFactor);
  if (size !== undefined) out[f.sizeMode] = size;
  const skip = new Set<NumberField>([
    ...(usesK(f.architecture) ? [] : (['k'] as const)),
    ...(usesSparsityPenalty(f.architecture) ? [] : (['l1Coefficient', 'l1WarmupSteps'] as const)),
    ...(usesThreshold(f.architecture) ? [] : (['initThreshold', 'bandwidth'] as const)),
  ]);
  for (const k of NUMBER_FIELDS) {
    if (skip.has(k)) continue;
    const n = parseNumber(f[k]);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

/** The `POST /api/trainings` body of the form. */
export function formBody(f: TrainingForm): CreateTraining {
  const name = f.name.trim();
  return { extractionId: f.extractionId, hookPoints: f.hookPoints, config: formConfig(f), ...(name ? { name } : {}) };
}

/** What a template saved from the form holds: its config, and its hook points when some are chosen. */
export function formTemplate(f: TrainingForm): TrainingTemplateSettings {
  return { config: formConfig(f), ...(f.hookPoints.length ? { hookPoints: f.hookPoints } : {}) };
}

/**
 * The form with a template applied: its config fields, and the defaults for
 * those it leaves out (as the server resolves a template); its hook points
 * when it has some (the extraction and the name stay).
 */
export function applyTrainingTemplate(f: TrainingForm, t: TrainingTemplateSettings): TrainingForm {
  const base = initialTrainingForm();
  const c = t.config ?? {};
  const out: TrainingForm = { ...base, extractionId: f.extractionId, name: f.name, hookPoints: t.hookPoints ?? f.hookPoints };
  for (const k of NUMBER_FIELDS) if (c[k] !== undefined) out[k] = String(c[k]);
  if (c.architecture) out.architecture = c.architecture;
  if (c.normalizeInputs !== undefined) out.normalizeInputs = c.normalizeInputs;
  if (c.bDecInit) out.bDecInit = c.bDecInit;
  if (c.normalizeDecoder !== undefined) out.normalizeDecoder = c.normalizeDecoder;
  if (c.dSae != null) Object.assign(out, { sizeMode: 'dSae', dSae: String(c.dSae) });
  else if (c.expansionFactor != null) Object.assign(out, { sizeMode: 'expansionFactor', expansionFactor: String(c.expansionFactor) });
  return out;
}

/** The errors of a field's path as the server names it (`config.k`, `hookPoints.1`) or of a template (`settings.config.k`). */
export function errorFor(errors: Record<string, string>, field: string): string | undefined {
  const hits = Object.entries(errors)
    .filter(([k]) => k === field || k === `settings.${field}` || (field === 'hookPoints' && /^(settings\.)?hookPoints(\.\d+)?$/.test(k)))
    .map(([, v]) => v);
  return hits.length ? hits.join('; ') : undefined;
}

/** d_sae a form gives for an input width, or undefined when the size is not a number yet. */
export function formDSae(f: TrainingForm, dIn: number): number | undefined {
  const n = parseNumber(f.sizeMode === 'dSae' ? f.dSae : f.expansionFactor);
  if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
  return f.sizeMode === 'dSae' ? n : Math.round(dIn * n);
}

// ---------------------------------------------------------------------------
// Runs

/**
 * A run with a live progress event applied (status, error, progress,
 * stopped); an event older than the run's progress is ignored (a late
 * delivery). A run that leaves the queue has no queue position any more, and
 * a finished one no pending control.
 */
export function applyTrainingProgress(run: Training, p: TrainingProgress): Training {
  if (p.id !== run.id) return run;
  if (run.progress && p.ts < run.progress.ts) return run;
  return {
    ...run,
    status: p.status,
    error: p.error,
    progress: p,
    stopped: p.stopped,
    queuePosition: p.status === 'queued' ? run.queuePosition : null,
    control: isActive(p.status) ? run.control : null,
  };
}

/** Steps a run takes (from its progress, else from its config). */
export function totalStepsOfRun(run: Training): number {
  return run.progress?.totalSteps ?? Math.max(1, Math.floor(run.config.totalTokens / run.config.batchSize));
}

/** Percentage of steps done, 0–100 (100 once completed, also when stopped early). */
export function stepsPercent(run: Training): number {
  if (run.status === 'completed') return 100;
  return percent(run.progress?.step ?? 0, totalStepsOfRun(run));
}

/** The status as the run list shows it: `queued (#2)`, `pausing…`, `completed (stopped at step 120)`. */
export function statusLabel(run: Training): string {
  if (run.status === 'queued') {
    if (run.control === 'stop') return 'stopping…';
    return run.queuePosition ? `queued (#${run.queuePosition})` : 'queued';
  }
  if (run.status === 'running' && run.control) return run.control === 'pause' ? 'pausing…' : 'stopping…';
  if (run.status === 'completed' && run.stopped) return `stopped at step ${formatInt(run.progress?.step ?? 0)}`;
  return run.status;
}

/** The controls a run offers in its status (delete is always there). */
export function controlsOf(run: Training): ('pause' | 'resume' | 'stop' | 'retry')[] {
  switch (run.status) {
    case 'queued':
      return run.control === 'stop' ? [] : ['pause', 'stop'];
    case 'running':
      return run.control ? [] : ['pause', 'stop'];
    case 'paused':
      return ['resume', 'stop'];
    case 'failed':
    case 'cancelled':
      return ['retry'];
    default:
      return [];
  }
}

/** One line of a run's config: `topk k=16 · d_sae 256 · lr 0.001 · batch 64 · 25,600 tokens · seed 42`. */
export function configLabel(c: TrainConfigResolved): string {
  const size = c.dSae !== null ? `d_sae ${formatInt(c.dSae)}` : `×${c.expansionFactor}`;
  const arch =
    c.architecture === 'relu'
      ? `relu L1 ${formatStat(c.l1Coefficient)}`
      : c.architecture === 'jumprelu'
        ? `jumprelu L0 ${formatStat(c.l1Coefficient)}`
        : `${c.architecture} k=${c.k}`;
  const lr = `lr ${formatStat(c.lr)}${c.lrWarmupSteps ? ` (warm-up ${formatInt(c.lrWarmupSteps)})` : ''}${c.lrDecayFraction ? `, decay ${Math.round(c.lrDecayFraction * 100)} %` : ''}`;
  return [arch, size, lr, `batch ${formatInt(c.batchSize)}`, `${formatInt(c.totalTokens)} tokens`, `b_dec ${c.bDecInit}`, `seed ${c.seed}`].join(' · ');
}

/** 1234567 → "1,234,567". */
export function formatInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** A short number: 0.000123 → "1.23e-4", 14.5738 → "14.57", 0.5 → "0.5000". */
export function formatStat(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return n.toExponential(2);
  return n.toFixed(a >= 100 ? 1 : a >= 1 ? 2 : 4);
}

/** A fraction as a percentage: 0.0312 → "3.1 %". */
export function formatFraction(n: number): string {
  return Number.isFinite(n) ? `${(n * 100).toFixed(n === 0 || n === 1 ? 0 : 1)} %` : '–';
}

// ---------------------------------------------------------------------------
// Metric history

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

/**
 * At most `maxPoints` points of a series, deterministically: the x range in
 * equal buckets, each drawn at its last point with its min and max; the first
 * and last points are always kept as they are (so the same history draws the
 * same chart, and the newest value is exact).
 */
export function downsample(t: readonly number[], v: readonly number[], maxPoints: number): { t: number[]; v: number[]; min?: number[]; max?: number[] } {
  const n = t.length;
  if (n <= maxPoints || maxPoints < 3) return { t: [...t], v: [...v] };
  const first = t[0]!;
  const span = t[n - 1]! - first;
  const buckets = maxPoints - 2;
  const out = { t: [first], v: [v[0]!], min: [v[0]!], max: [v[0]!] };
  let bucket = -1;
  for (let i = 1; i < n - 1; i++) {
    const b = Math.min(buckets - 1, Math.floor(((t[i]! - first) / span) * buckets));
    const val = v[i]!;
    if (b !== bucket) {
      bucket = b;
      out.t.push(t[i]!);
      out.v.push(val);
      out.min.push(val);
      out.max.push(val);
      continue;
    }
    const j = out.t.length - 1;
    out.t[j] = t[i]!;
    out.v[j] = val;
    if (val < out.min[j]!) out.min[j] = val;
    if (val > out.max[j]!) out.max[j] = val;
  }
  out.t.push(t[n - 1]!);
  out.v.push(v[n - 1]!);
  out.min.push(v[n - 1]!);
  out.max.push(v[n - 1]!);
  return out;
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
