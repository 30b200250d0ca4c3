/**
 * Pure helpers of the Sweeps page: where a sweep stands in words and
 * numbers, the settings a search space may vary and the new-sweep form as
 * typed text with the request body it makes (and its messages by field, named
 * as the server names them), the trials' order in the table, the best-so-far
 * line of the objective chart, the axes and polylines of the
 * parallel-coordinates chart, and parameter values as the page writes them.
 * Kept apart from the page so they are tested without a browser.
 */
import { z } from 'zod';
import { issueDetails } from '../../models/contracts/messages.ts';
import { metricDef, type MetricKey } from '../../models/contracts/metrics.ts';
import { createSweepSchema, SWEEP_LIMITS, UNSWEPT_SETTINGS, type CreateSweep, type Sweep, type SweepEvent, type SweepTrial } from '../../models/contracts/sweeps.ts';
import { SAE_ARCHITECTURE_NAMES, trainConfigSchema, type TrainConfigInput, type TrainingProgress } from '../../models/contracts/trainings.ts';
import type { SweepMethod } from '../../models/sweep/propose.ts';
import { gridSize, SPACE_LIMITS, type ParamSpec, type ParamValue, type Params, type SearchSpace } from '../../models/sweep/space.ts';
import { parseNumber } from './training-form.ts';
import { formatInt } from './training-view.ts';

type Direction = 'maximize' | 'minimize';

// ---------------------------------------------------------------------------
// A sweep's state

/** Statuses in which a sweep may still change by itself (its coordinator has it or will take it). */
export function isSweepActive(status: Sweep['status']): boolean {
  return status === 'queued' || status === 'running';
}

/** Trials that have ended, whatever the way: completed, pruned, failed or cancelled. */
export function trialsEnded(p: Sweep['progress']): number {
  return p.completed + p.pruned + p.failed + p.cancelled;
}

/** Percentage of the budget's trials ended, 0–100 (100 once the sweep completed). */
export function sweepPercent(s: Pick<Sweep, 'status' | 'progress' | 'spec'>): number {
  if (s.status === 'completed') return 100;
  return s.spec.budget > 0 ? Math.min(100, (100 * trialsEnded(s.progress)) / s.spec.budget) : 0;
}

/**
 * Where a sweep stands, in words: trials ended of the budget, then those
 * running, pruned, failed and cancelled (each only when there are some).
 * @example sweepProgressText(s) // "3 / 8 trials · 2 running · 1 pruned"
 */
export function sweepProgressText(s: Pick<Sweep, 'progress' | 'spec'>): string {
  const p = s.progress;
  const parts = [`${formatInt(trialsEnded(p))} / ${formatInt(s.spec.budget)} trials`];
  if (p.running) parts.push(`${formatInt(p.running)} running`);
  if (p.pruned) parts.push(`${formatInt(p.pruned)} pruned`);
  if (p.failed) parts.push(`${formatInt(p.failed)} failed`);
  if (p.cancelled) parts.push(`${formatInt(p.cancelled)} cancelled`);
  return parts.join(' · ');
}

/**
 * A sweep with a live `sweep/{id}` event applied (status, progress, error);
 * the same object for another sweep's event.
 */
export function applySweepEvent<S extends Pick<Sweep, 'id' | 'status' | 'progress' | 'error'>>(s: S, e: SweepEvent): S {
  if (e.id !== s.id) return s;
  return { ...s, status: e.status, progress: e.progress, error: e.error };
}

/** A trial with a live progress event of its training applied (its status and steps); the same object for another training's. */
export function applyTrialTraining<T extends Pick<SweepTrial, 'trainingId' | 'training'>>(t: T, p: Pick<TrainingProgress, 'id' | 'status' | 'step' | 'totalSteps' | 'stopped'>): T {
  if (p.id !== t.trainingId) return t;
  return { ...t, training: { status: p.status, step: p.step, totalSteps: p.totalSteps, stopped: p.stopped } };
}

/** The address of a sweep's page. */
export function sweepHref(id: string): string {
  return `/sweeps?id=${encodeURIComponent(id)}`;
}

/** The address of a trial's training on the Training page (opened there). */
export function trainingHref(trainingId: string): string {
  return `/training?run=${encodeURIComponent(trainingId)}`;
}

// ---------------------------------------------------------------------------
// Parameter values

/**
 * A parameter's value as the page writes it: integers with separators,
 * other numbers with four significant digits at most (in exponent form
 * below 0.001 and from 100,000 up, trailing zeros dropped), booleans and
 * words as they are.
 * @example formatParam(0.00025) // "2.5e-4"; formatParam(1024) // "1,024"; formatParam(0.0031623) // "0.003162"
 */
export function formatParam(v: ParamValue | undefined): string {
  if (v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return formatInt(v);
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) {
    const [mantissa, exponent] = v.toExponential(3).split('e');
    return `${String(Number(mantissa))}e${Number(exponent)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/**
 * A trial's params in one line, in the space's key order.
 * @example formatParams({ k: 16, lr: 0.001 }, ['k', 'lr']) // "k=16 · lr=0.001"
 */
export function formatParams(params: Params, keys: readonly string[] = Object.keys(params)): string {
  return keys.map((k) => `${k}=${formatParam(params[k])}`).join(' · ');
}

// ---------------------------------------------------------------------------
// The settings a space may vary

/** How a training setting varies in a space: an int or float range (or choices of numbers), or only choices (words, booleans). */
export interface SweepableSetting {
  key: string;
  kind: 'int' | 'float' | 'choice';
  /** the values a setting of kind `choice` takes (an enum's words, or true and false) */
  options?: readonly ParamValue[];
}

/** A config field's kind, read from its zod schema (nullable fields by what they hold). */
function settingOf(key: string, field: z.ZodType): SweepableSetting {
  const inner = field instanceof z.ZodNullable ? (field.unwrap() as z.ZodType) : field;
  if (inner instanceof z.ZodEnum) return { key, kind: 'choice', options: inner.options as string[] };
  if (inner instanceof z.ZodBoolean) return { key, kind: 'choice', options: [true, false] };
  if (inner instanceof z.ZodNumber) return { key, kind: inner.isInt ? 'int' : 'float' };
  return { key, kind: 'choice' };
}

/** Every training setting a space may vary (all but those that set how trials are measured), in the config's order. */
export const SWEEPABLE: readonly SweepableSetting[] = Object.entries(trainConfigSchema.shape as Record<string, z.ZodType>)
  .filter(([key]) => !(UNSWEPT_SETTINGS as readonly string[]).includes(key))
  .map(([key, field]) => settingOf(key, field));

const SETTING = new Map(SWEEPABLE.map((s) => [s.key, s]));

/** The setting `key`, or undefined for one a space cannot vary. */
export function sweepableSetting(key: string): SweepableSetting | undefined {
  return SETTING.get(key);
}

/** The types a row of `key` may take: a range of its kind or choices; only choices for words and booleans. */
export function rowTypesOf(key: string): SpaceRow['type'][] {
  const s = SETTING.get(key);
  if (!s || s.kind === 'choice') return ['choice'];
  return [s.kind, 'choice'];
}

// ---------------------------------------------------------------------------
// The new-sweep form

/** One row of the search space as typed: a setting, its type, and the range's bounds or the choices (comma-separated). */
export interface SpaceRow {
  key: string;
  type: 'float' | 'int' | 'choice';
  min: string;
  max: string;
  log: boolean;
  /** grid points of a range (grid method only; empty: 5) */
  points: string;
  /** a choice's values, comma-separated */
  values: string;
}

/** A constraint of the objective as typed. */
export interface ConstraintRow {
  metric: MetricKey;
  op: '<=' | '>=';
  value: string;
}

/** The base config's fields the form shows; numbers as typed text, '' to leave a field to the template or the defaults. */
export interface BaseForm {
  architecture: '' | (typeof SAE_ARCHITECTURE_NAMES)[number];
  dSae: string;
  k: string;
  lr: string;
  batchSize: string;
  totalTokens: string;
  metricsEvery: string;
  evalWindows: string;
}

/** The number fields of {@link BaseForm}. */
export const BASE_NUMBER_FIELDS = ['dSae', 'k', 'lr', 'batchSize', 'totalTokens', 'metricsEvery', 'evalWindows'] as const;

/** What the new-sweep form holds. */
export interface SweepForm {
  extractionId: string;
  /** '' : the extraction's first */
  hookPoint: string;
  /** '' : the server's ("tpe over k, lr") */
  name: string;
  method: SweepMethod;
  seed: string;
  /** '' : the grid's size, or 20 */
  budget: string;
  parallelism: string;
  metric: MetricKey;
  /** '' : from the metric's better direction */
  direction: '' | Direction;
  constraints: ConstraintRow[];
  rows: SpaceRow[];
  /** a training template the base starts from ('' : the defaults) */
  templateId: string;
  base: BaseForm;
  /** null: the method's default (on for random and TPE, off for a grid) */
  prune: boolean | null;
  warmupSteps: string;
  minTrials: string;
}

/** Ranges a row of a common setting starts with (others start empty). */
const ROW_SUGGESTIONS: Record<string, Partial<SpaceRow>> = {
  k: { type: 'int', min: '16', max: '128', log: true },
  lr: { type: 'float', min: '0.0001', max: '0.01', log: true },
  dSae: { type: 'int', min: '1024', max: '8192', log: true },
  expansionFactor: { type: 'float', min: '4', max: '32', log: true },
  l1Coefficient: { type: 'float', min: '0.1', max: '10', log: true },
  batchSize: { type: 'choice', values: '512, 1024, 2048' },
};

/** A new row for `key`: a common setting's usual range, a word's or boolean's every value, else an empty range of its kind. */
export function newSpaceRow(key = ''): SpaceRow {
  const s = SETTING.get(key);
  const base: SpaceRow = { key, type: s?.kind ?? 'float', min: '', max: '', log: false, points: '', values: s?.options ? s.options.map(String).join(', ') : '' };
  return { ...base, ...ROW_SUGGESTIONS[key] };
}

/** The direction a metric defaults to: its better direction, '' for one without. */
export function defaultDirection(metric: MetricKey): '' | Direction {
  const better = metricDef(metric).better;
  return better === 'higher' ? 'maximize' : better === 'lower' ? 'minimize' : '';
}

/** The form at its defaults: a TPE sweep of k and lr maximising explained variance. */
export function initialSweepForm(): SweepForm {
  return {
    extractionId: '',
    hookPoint: '',
    name: '',
    method: 'tpe',
    seed: '0',
    budget: '',
    parallelism: String(SWEEP_LIMITS.DEFAULT_PARALLELISM),
    metric: 'explainedVariance',
    direction: 'maximize',
    constraints: [],
    rows: [newSpaceRow('k'), newSpaceRow('lr')],
    templateId: '',
    base: { architecture: '', dSae: '', k: '', lr: '', batchSize: '', totalTokens: '', metricsEvery: '', evalWindows: '' },
    prune: null,
    warmupSteps: '',
    minTrials: '',
  };
}

/** Whether the pruner runs: as the form says, else the method's default (not for a grid). */
export function pruneOn(f: Pick<SweepForm, 'prune' | 'method'>): boolean {
  return f.prune ?? f.method !== 'grid';
}

/**
 * A choice's values as typed (comma-separated) for setting `key`: numbers
 * for a numeric setting, true/false for a boolean one, the setting's own
 * words for the others. The values, or why they cannot be.
 * @example parseChoiceValues('k', '8, 16') // { values: [8, 16] }
 */
export function parseChoiceValues(key: string, text: string): { values: ParamValue[] } | { error: string } {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return { error: 'give at least one value' };
  const s = SETTING.get(key);
  const values: ParamValue[] = [];
  for (const p of parts) {
    if (s?.options) {
      const hit = s.options.find((o) => String(o) === p.toLowerCase() || String(o) === p);
      if (hit === undefined) return { error: `"${p}" is not one of ${s.options.map(String).join(', ')}` };
      values.push(hit);
    } else {
      const n = parseNumber(p);
      if (typeof n !== 'number') return { error: `"${p}" is not a number` };
      if (s?.kind === 'int' && !Number.isInteger(n)) return { error: `${key} takes whole numbers ("${p}")` };
      values.push(n);
    }
  }
  if (new Set(values).size !== values.length) return { error: 'values must be distinct' };
  if (values.length > SPACE_LIMITS.MAX_CHOICES) return { error: `at most ${SPACE_LIMITS.MAX_CHOICES} values` };
  return { values };
}

/** A typed whole number in [min, max]: undefined when empty, else the number or why not. */
function wholeNumber(text: string, min: number, max: number): number | undefined | { error: string } {
  const n = parseNumber(text);
  if (n === undefined) return undefined;
  if (typeof n !== 'number' || !Number.isInteger(n)) return { error: 'a whole number' };
  if (n < min || n > max) return { error: `from ${formatInt(min)} to ${formatInt(max)}` };
  return n;
}

/** The spec of one row, filling `errors` (keys as the server names them: `space.k.min`). */
function rowSpec(row: SpaceRow, method: SweepMethod, errors: Record<string, string>): ParamSpec | undefined {
  const at = `space.${row.key}`;
  if (row.type === 'choice') {
    const parsed = parseChoiceValues(row.key, row.values);
    if ('error' in parsed) {
      errors[`${at}.values`] = parsed.error;
      return undefined;
    }
    return { type: 'choice', values: parsed.values };
  }
  const bound = (text: string, which: 'min' | 'max'): number | undefined => {
    const n = parseNumber(text);
    if (n === undefined) errors[`${at}.${which}`] = 'required';
    else if (typeof n !== 'number') errors[`${at}.${which}`] = 'a number';
    else if (row.type === 'int' && !Number.isInteger(n)) errors[`${at}.${which}`] = 'a whole number (an int range)';
    else return n;
    return undefined;
  };
  const min = bound(row.min, 'min');
  const max = bound(row.max, 'max');
  if (min !== undefined && max !== undefined && !(min < max)) errors[`${at}.max`] = `must be above min (${formatParam(min)})`;
  if (row.log && min !== undefined && !(min > 0)) errors[`${at}.min`] = 'a log range needs min > 0';
  let points: number | undefined;
  if (method === 'grid') {
    const p = wholeNumber(row.points, SPACE_LIMITS.MIN_POINTS, SPACE_LIMITS.MAX_POINTS);
    if (typeof p === 'object') errors[`${at}.points`] = p.error;
    else points = p;
  }
  if (min === undefined || max === undefined || errors[`${at}.min`] || errors[`${at}.max`] || errors[`${at}.points`]) return undefined;
  return { type: row.type, min, max, ...(row.log ? { log: true } : {}), ...(points !== undefined ? { points } : {}) };
}

/**
 * The search space of the form's rows, filling `errors`: a row without a
 * setting or with one already swept at `rows.<i>.key`, a row's own fields
 * at `space.<key>.<field>` (as the server names them), none at all at
 * `space`. Undefined when a row is wrong.
 */
export function spaceOfRows(rows: readonly SpaceRow[], method: SweepMethod, errors: Record<string, string>): SearchSpace | undefined {
  if (rows.length === 0) errors.space = 'add a setting to sweep';
  if (rows.length > SPACE_LIMITS.MAX_PARAMS) errors.space = `at most ${SPACE_LIMITS.MAX_PARAMS} settings`;
  const space: SearchSpace = {};
  let ok = rows.length > 0 && rows.length <= SPACE_LIMITS.MAX_PARAMS;
  rows.forEach((row, i) => {
    if (!row.key) {
      errors[`rows.${i}.key`] = 'pick a setting';
      ok = false;
      return;
    }
    if (row.key in space || rows.slice(0, i).some((r) => r.key === row.key)) {
      errors[`rows.${i}.key`] = `${row.key} is swept twice`;
      ok = false;
      return;
    }
    const spec = rowSpec(row, method, errors);
    if (spec) space[row.key] = spec;
    else ok = false;
  });
  return ok ? space : undefined;
}

/** The base config of the form: the fields given, numbers as typed (the schema names a wrong one at `base.<field>`). */
export function baseOfForm(b: BaseForm, errors: Record<string, string>): TrainConfigInput {
  const out: Record<string, unknown> = {};
  if (b.architecture) out.architecture = b.architecture;
  for (const k of BASE_NUMBER_FIELDS) {
    const n = parseNumber(b[k]);
    if (n === undefined) continue;
    if (typeof n !== 'number') errors[`base.${k}`] = 'a number';
    else out[k] = n;
  }
  return out as TrainConfigInput;
}

/** The grid's size of the form's rows, when they make a space (for the budget's placeholder). */
export function formGridSize(f: Pick<SweepForm, 'rows'>): number | undefined {
  const space = spaceOfRows(f.rows, 'grid', {});
  return space ? gridSize(space) : undefined;
}

/**
 * The `POST /api/sweeps` body of the form, and the messages by field (the
 * server's names: `space.k.max`, `budget`, `objective.constraints.0.value`,
 * `base.batchSize`; `rows.<i>.key` for a row without a setting). The form's
 * own checks first (each field's text); when they pass, the contract's
 * (models/contracts/sweeps.ts), so that nothing is sent the server would
 * refuse for its shape. `body` is undefined when there is a message.
 */
export function sweepFormBody(f: SweepForm): { body: CreateSweep | undefined; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  if (!f.extractionId) errors.extractionId = 'pick a completed extraction';
  const space = spaceOfRows(f.rows, f.method, errors);
  const base = baseOfForm(f.base, errors);
  const field = (name: string, text: string, min: number, max: number): number | undefined => {
    const n = wholeNumber(text, min, max);
    if (typeof n !== 'object') return n;
    errors[name] = n.error;
    return undefined;
  };
  const seed = field('seed', f.seed, 0, 2 ** 31 - 1);
  const budget = field('budget', f.budget, 1, SWEEP_LIMITS.MAX_TRIALS);
  const parallelism = field('parallelism', f.parallelism, 1, SWEEP_LIMITS.MAX_PARALLELISM);
  const warmupSteps = field('pruner.warmupSteps', f.warmupSteps, 0, 1e9);
  const minTrials = field('pruner.minTrials', f.minTrials, 1, SWEEP_LIMITS.MAX_MIN_TRIALS);
  if (f.method === 'grid' && space && budget !== undefined && !errors.budget) {
    const size = gridSize(space);
    if (budget > size) errors.budget = `the grid has ${formatInt(size)} points: at most ${formatInt(size)} trials`;
  }
  if (!f.direction && !defaultDirection(f.metric)) errors['objective.direction'] = `${metricDef(f.metric).name} is neither better high nor low: pick maximize or minimize`;
  const constraints = f.constraints.map((c, i) => {
    const n = parseNumber(c.value);
    if (n === undefined) errors[`objective.constraints.${i}.value`] = 'required';
    else if (typeof n !== 'number') errors[`objective.constraints.${i}.value`] = 'a number';
    return { metric: c.metric, op: c.op, value: n as number };
  });
  const pruner =
    f.prune !== null || warmupSteps !== undefined || minTrials !== undefined
      ? { ...(f.prune !== null ? { enabled: f.prune } : {}), ...(warmupSteps !== undefined ? { warmupSteps } : {}), ...(minTrials !== undefined ? { minTrials } : {}) }
      : undefined;
  const name = f.name.trim();
  const body: CreateSweep = {
    extractionId: f.extractionId,
    ...(name ? { name } : {}),
    ...(f.hookPoint ? { hookPoint: f.hookPoint } : {}),
    ...(Object.keys(base).length ? { base } : {}),
    ...(f.templateId ? { templateId: f.templateId } : {}),
    space: space ?? {},
    method: f.method,
    ...(seed !== undefined ? { seed } : {}),
    objective: { metric: f.metric, ...(f.direction ? { direction: f.direction } : {}), constraints },
    ...(budget !== undefined ? { budget } : {}),
    ...(parallelism !== undefined ? { parallelism } : {}),
    ...(pruner ? { pruner } : {}),
  };
  if (Object.keys(errors).length) return { body: undefined, errors };
  const parsed = createSweepSchema.safeParse(body);
  if (parsed.success) return { body, errors };
  for (const d of issueDetails(parsed.error)) errors[d.field] ??= d.message;
  return { body: undefined, errors };
}

/**
 * The message of a field of the form, from the form's checks or the
 * server's: `field` itself and anything under it (`space.k` takes
 * `space.k.values.1`), joined.
 */
export function sweepErrorFor(errors: Record<string, string>, field: string): string | undefined {
  const hits = Object.entries(errors)
    .filter(([k]) => k === field || k.startsWith(`${field}.`))
    .map(([, v]) => v);
  return hits.length ? [...new Set(hits)].join('; ') : undefined;
}

// ---------------------------------------------------------------------------
// The trials table

/** A column the trials table sorts by: the number, the objective (by score: best first), the status, a metric, or a param (`param:k`). */
export type TrialSortKey = 'number' | 'objective' | 'status' | MetricKey | `param:${string}`;

/** How the trials table is sorted; for `objective`, `desc` is best first. */
export interface TrialSort {
  key: TrialSortKey;
  desc: boolean;
}

const STATUS_ORDER: Record<SweepTrial['status'], number> = { running: 0, completed: 1, pruned: 2, failed: 3, cancelled: 4 };

type SortableTrial = Pick<SweepTrial, 'number' | 'params' | 'status' | 'score' | 'final'>;

/** The value a trial sorts by for `key`: null sorts last in both directions. */
function sortValue(t: SortableTrial, key: TrialSortKey): number | string | null {
  if (key === 'number') return t.number;
  if (key === 'objective') return t.score;
  if (key === 'status') return STATUS_ORDER[t.status];
  if (key.startsWith('param:')) {
    const v = t.params[key.slice(6)];
    return v === undefined ? null : typeof v === 'number' ? v : String(v);
  }
  const v = t.final[key as MetricKey];
  return v == null || !Number.isFinite(v) ? null : v;
}

/**
 * The trials in the table's order: by `sort` (the objective by score, so
 * that the best is first when `desc`, trials breaking a constraint below
 * those that keep them), the ones without a value last either way, ties by
 * trial number. A new array; the trials are the same objects.
 */
export function sortTrials<T extends SortableTrial>(trials: readonly T[], sort: TrialSort): T[] {
  const sign = sort.desc ? -1 : 1;
  return [...trials].sort((a, b) => {
    const va = sortValue(a, sort.key);
    const vb = sortValue(b, sort.key);
    if (va === null || vb === null) return va === vb ? a.number - b.number : va === null ? 1 : -1;
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    return c !== 0 ? sign * c : a.number - b.number;
  });
}

/**
 * The sort after a click on `key`'s header: the same column reversed; a new
 * one best first (the objective; a metric by its better direction), else
 * ascending.
 */
export function nextTrialSort(current: TrialSort, key: TrialSortKey): TrialSort {
  if (current.key === key) return { key, desc: !current.desc };
  if (key === 'objective') return { key, desc: true };
  if (key === 'number' || key === 'status' || key.startsWith('param:')) return { key, desc: false };
  return { key, desc: metricDef(key as MetricKey).better === 'higher' };
}

// ---------------------------------------------------------------------------
// The objective chart

/** Trials that have ended with an objective value: the points of the charts. */
export function endedWithObjective<T extends Pick<SweepTrial, 'status' | 'objective'>>(trials: readonly T[]): (T & { objective: number })[] {
  return trials.filter((t): t is T & { objective: number } => t.status !== 'running' && t.objective !== null && Number.isFinite(t.objective));
}

/**
 * The best objective so far, by trial number: for each completed trial that
 * keeps the constraints (in number order), the best of its value and those
 * before it, by `direction`. The points of the chart's step line.
 * @example bestSoFar([{ number: 0, status: 'completed', objective: 0.5, feasible: true }, { number: 1, status: 'completed', objective: 0.7, feasible: true }], 'maximize') // [{ number: 0, value: 0.5 }, { number: 1, value: 0.7 }]
 */
export function bestSoFar(trials: readonly Pick<SweepTrial, 'number' | 'status' | 'objective' | 'feasible'>[], direction: Direction): { number: number; value: number }[] {
  const better = (a: number, b: number) => (direction === 'maximize' ? a > b : a < b);
  const out: { number: number; value: number }[] = [];
  let best: number | undefined;
  for (const t of [...trials].sort((a, b) => a.number - b.number)) {
    if (t.status !== 'completed' || t.objective === null || !Number.isFinite(t.objective) || t.feasible === false) continue;
    if (best === undefined || better(t.objective, best)) best = t.objective;
    out.push({ number: t.number, value: best });
  }
  return out;
}

// ---------------------------------------------------------------------------
// The parallel-coordinates chart

/** The key of the objective's axis (a param key cannot be empty, so none is this). */
export const OBJECTIVE_AXIS = '';

/**
 * An axis of the parallel-coordinates chart: a range's (its spec's bounds;
 * `log` for a log range), a choice's (its values in the space's order, as
 * {@link formatParam} writes them), or the objective's (linear).
 */
export type ParallelAxis =
  | { key: string; label: string; kind: 'linear' | 'log'; domain: [number, number] }
  | { key: string; label: string; kind: 'point'; domain: ParamValue[] };

/**
 * The axes of the chart: one per param of the space in its order, then the
 * objective's over the values of `trials` (ended with a value): from the
 * lowest to the highest, or ±10 % around a lone value (±1 around 0), or
 * [0, 1] without any.
 */
export function parallelAxes(space: SearchSpace, trials: readonly Pick<SweepTrial, 'status' | 'objective'>[], objectiveLabel: string): ParallelAxis[] {
  const axes: ParallelAxis[] = Object.entries(space).map(([key, spec]) =>
    spec.type === 'choice' ? { key, label: key, kind: 'point', domain: [...spec.values] } : { key, label: key, kind: spec.log ? 'log' : 'linear', domain: [spec.min, spec.max] },
  );
  const values = endedWithObjective(trials).map((t) => t.objective);
  let domain: [number, number] = [0, 1];
  if (values.length) {
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const pad = Math.abs(lo) / 10 || 1;
    domain = hi > lo ? [lo, hi] : [lo - pad, hi + pad];
  }
  axes.push({ key: OBJECTIVE_AXIS, label: objectiveLabel, kind: 'linear', domain });
  return axes;
}

/**
 * Where `value` sits on `axis`, from 0 (bottom) to 1 (top): linear or log
 * between the domain's ends (outside them beyond 0 or 1), a choice at the
 * middle of its band ((i + ½) / n, the first at the bottom). Null when it
 * has no place (not a value of the choice, not a number, ≤ 0 on a log axis).
 */
export function axisFraction(axis: ParallelAxis, value: ParamValue | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (axis.kind === 'point') {
    const i = axis.domain.indexOf(value);
    return i < 0 ? null : (i + 0.5) / axis.domain.length;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  const [lo, hi] = axis.domain;
  if (axis.kind === 'log') return value > 0 && lo > 0 && hi > lo ? Math.log(value / lo) / Math.log(hi / lo) : null;
  return hi > lo ? (value - lo) / (hi - lo) : 0.5;
}

/** The x of axis `i` of `n` across `width` px: evenly from 0 to width (a lone axis in the middle). */
export function axisX(i: number, n: number, width: number): number {
  return n <= 1 ? width / 2 : (i * width) / (n - 1);
}

/**
 * A trial's polyline across a plot of `width` × `height` px: a point [x, y]
 * per axis (y from the top: 0 is the axis's top), its params on theirs and
 * its objective on the last; null when a value has no place on its axis.
 * @example trialPolyline(axes, { params: { k: 16 }, objective: 0.5 }, 300, 100) // [[0, 50], [300, 50]] for k in [8, 24] and objective in [0, 1]
 */
export function trialPolyline(axes: readonly ParallelAxis[], trial: Pick<SweepTrial, 'params' | 'objective'>, width: number, height: number): [number, number][] | null {
  const out: [number, number][] = [];
  for (let i = 0; i < axes.length; i++) {
    const axis = axes[i]!;
    const f = axisFraction(axis, axis.key === OBJECTIVE_AXIS ? trial.objective : trial.params[axis.key]);
    if (f === null) return null;
    out.push([axisX(i, axes.length, width), (1 - f) * height]);
  }
  return out;
}

/**
 * How good an objective value is within `domain`, 0 (worst) to 1 (best),
 * for a line's colour: the value's place in the domain, turned over when
 * minimising.
 */
export function objectiveShade(value: number, domain: readonly [number, number], direction: Direction): number {
  const [lo, hi] = domain;
  const f = hi > lo ? Math.min(1, Math.max(0, (value - lo) / (hi - lo))) : 1;
  return direction === 'maximize' ? f : 1 - f;
}

/** Parameters by importance, the most important first (ties in the space's order). */
export function importanceRows(importance: Record<string, number>, keys: readonly string[]): { key: string; value: number }[] {
  return keys.map((key) => ({ key, value: importance[key] ?? 0 })).sort((a, b) => b.value - a.value);
}

/** Fields of the form with a place of their own (the rest of a row's or a constraint's fields are matched by pattern). */
const PLACED = new Set(['extractionId', 'hookPoint', 'name', 'method', 'seed', 'budget', 'parallelism', 'objective', 'objective.metric', 'objective.direction', 'objective.constraints', 'space', 'templateId', 'base', 'pruner', 'pruner.enabled', 'pruner.warmupSteps', 'pruner.minTrials']);

/**
 * The messages of fields the form has no place for (a server's `base.beta1`
 * from a template, a row's setting the form no longer holds), to be shown
 * together: those of the form's own fields, of its rows' settings
 * (`space.<key>…`, `rows.<i>.key`), its constraints and its base fields are
 * shown beside them.
 */
export function unplacedErrors(errors: Record<string, string>, f: Pick<SweepForm, 'rows'>): [string, string][] {
  const keys = new Set(f.rows.map((r) => r.key).filter(Boolean));
  const placed = (k: string) => {
    if (PLACED.has(k) || /^rows\.\d+\.key$/.test(k) || /^objective\.constraints\.\d+(\..+)?$/.test(k)) return true;
    if (k.startsWith('base.')) return k === 'base.architecture' || (BASE_NUMBER_FIELDS as readonly string[]).includes(k.slice(5));
    const m = /^space\.([^.]+)(?:\.(.+))?$/.exec(k);
    return !!m && keys.has(m[1]!) && /^(type|log|min|max|points|values(\.\d+)?)?$/.test(m[2] ?? '');
  };
  return Object.entries(errors).filter(([k]) => !placed(k));
}
