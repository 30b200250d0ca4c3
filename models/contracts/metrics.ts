/**
 * Every training and evaluation metric, defined once: its name as the pages
 * show it, unit, which direction is better, tier (primary metrics lead every
 * table) and a one-line definition. The UI's tooltips, the Compare page's
 * tables, sweeps' objectives and the exports read this registry; a metric
 * not listed here is not shown.
 */
import { z } from 'zod';
import type { EvalValues, TrainMetricValues } from './trainings.ts';

export const METRIC_TIERS = ['primary', 'standard', 'diagnostic'] as const;
export type MetricTier = (typeof METRIC_TIERS)[number];

/** A metric's definition. */
export interface MetricDef {
  /** the key in a metric point (`train.<key>` or `eval.<key>`) */
  key: MetricKey;
  /** where a metric point holds it */
  source: 'train' | 'eval';
  /** as the pages name it */
  name: string;
  /** null: a plain number (a fraction 0..1 is `fraction`) */
  unit: 'fraction' | 'nats' | 'features' | 'tokens/s' | null;
  /** which way is better; null: neither (a schedule, a setting) */
  better: 'higher' | 'lower' | null;
  tier: MetricTier;
  /** one line, as a tooltip says it */
  definition: string;
}

export type TrainMetricKey = keyof TrainMetricValues;
export type EvalMetricKey = Exclude<keyof EvalValues, 'density'>;
export type MetricKey = TrainMetricKey | EvalMetricKey;

const train = (key: TrainMetricKey, d: Omit<MetricDef, 'key' | 'source'>): MetricDef => ({ key, source: 'train', ...d });
const evaluation = (key: EvalMetricKey, d: Omit<MetricDef, 'key' | 'source'>): MetricDef => ({ key, source: 'eval', ...d });

/** The registry, primary metrics first, in the order tables show them. */
export const METRICS: readonly MetricDef[] = [
  train('explainedVariance', { name: 'explained variance', unit: 'fraction', better: 'higher', tier: 'primary', definition: '1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² over the batch: the share of the activations\' variance the SAE reconstructs' }),
  train('l0', { name: 'L0', unit: 'features', better: 'lower', tier: 'primary', definition: 'mean number of features active on a token' }),
  evaluation('ceLossRecovered', { name: 'CE-loss recovered', unit: 'fraction', better: 'higher', tier: 'primary', definition: '(zero-ablated − spliced) / (zero-ablated − clean) next-token loss: 1 when the SAE\'s reconstruction costs the model nothing' }),
  train('mse', { name: 'MSE', unit: null, better: 'lower', tier: 'standard', definition: 'mean squared reconstruction error a token, summed over the hook\'s dimensions' }),
  train('loss', { name: 'loss', unit: null, better: 'lower', tier: 'standard', definition: 'the training objective: MSE plus the architecture\'s sparsity penalty or auxiliary loss' }),
  train('deadFraction', { name: 'dead features', unit: 'fraction', better: 'lower', tier: 'standard', definition: 'share of features that have not fired within the dead-feature window of tokens' }),
  evaluation('ceLossSpliced', { name: 'CE loss, SAE spliced', unit: 'nats', better: 'lower', tier: 'standard', definition: 'the model\'s mean next-token loss with the hook replaced by the SAE\'s reconstruction' }),
  train('denseFraction', { name: 'dense features', unit: 'fraction', better: 'lower', tier: 'diagnostic', definition: 'share of features firing on more than the dense threshold of a batch\'s tokens' }),
  train('l1', { name: 'L1', unit: null, better: 'lower', tier: 'diagnostic', definition: 'mean decoder-norm-weighted L1 norm of the feature activations a token' }),
  evaluation('ceLossClean', { name: 'CE loss, clean', unit: 'nats', better: null, tier: 'diagnostic', definition: 'the model\'s own mean next-token loss on the evaluation windows' }),
  evaluation('ceLossZero', { name: 'CE loss, zero-ablated', unit: 'nats', better: null, tier: 'diagnostic', definition: 'the mean next-token loss with the hook\'s activations set to zero' }),
  train('lr', { name: 'learning rate', unit: null, better: null, tier: 'diagnostic', definition: 'the learning rate of the step, after warm-up and decay' }),
  train('l1Coefficient', { name: 'L1 coefficient', unit: null, better: null, tier: 'diagnostic', definition: 'the sparsity coefficient of the step, after its warm-up' }),
  train('tokensPerSecond', { name: 'throughput', unit: 'tokens/s', better: 'higher', tier: 'diagnostic', definition: 'tokens trained on a second, averaged since the previous point' }),
];

export const METRIC_KEYS = METRICS.map((m) => m.key) as [MetricKey, ...MetricKey[]];
export const metricKeySchema = z.enum(METRIC_KEYS);

const BY_KEY = new Map(METRICS.map((m) => [m.key, m]));

/** The definition of `key`; throws for a key not in the registry. */
export function metricDef(key: MetricKey): MetricDef {
  const m = BY_KEY.get(key);
  if (!m) throw new Error(`no metric "${key}"`);
  return m;
}

/** Whether `a` is better than `b` for a metric with a direction (false when equal, or no direction). */
export function isBetter(key: MetricKey, a: number, b: number): boolean {
  const better = metricDef(key).better;
  return better === 'higher' ? a > b : better === 'lower' ? a < b : false;
}

/** A metric's value in a metric point's train or eval part (null when that part or value is missing, or not finite); the eval part's density histogram is not read. */
export function metricValue(key: MetricKey, point: { train: TrainMetricValues | null; eval: Omit<EvalValues, 'density'> | null }): number | null {
  const def = metricDef(key);
  const part = def.source === 'train' ? point.train : point.eval;
  if (!part) return null;
  const v = (part as Record<string, unknown>)[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
