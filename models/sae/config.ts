/**
 * The hyperparameters of a training, resolved and checked against the
 * activations it trains on, in plain arithmetic (no I/O): shared by the API
 * (which answers a 400 naming the field), the job and `loupe train`.
 */
import { TRAIN_DEFAULTS, TRAINING_LIMITS, type TrainConfigInput, type TrainConfigResolved } from '../contracts/trainings.ts';
import { SettingsError } from '../settings-error.ts';
import { resolveDSae, type TrainConfig } from './train.ts';

/**
 * Layers of config merged into one, in order of precedence: the first layer
 * that gives a field wins, and a layer that gives dSae or expansionFactor
 * decides both (the other is left out). What is given nowhere stays out.
 * @example mergeTrainConfig([{ dSae: 512 }, { expansionFactor: 4, k: 8 }]) // { dSae: 512, k: 8 }
 */
export function mergeTrainConfig(layers: readonly (TrainConfigInput | undefined)[]): TrainConfigInput {
  const out: Record<string, unknown> = {};
  for (const l of layers) {
    for (const [k, v] of Object.entries(l ?? {})) if (v !== undefined && !(k in out) && k !== 'dSae' && k !== 'expansionFactor') out[k] = v;
  }
  const sized = layers.find((l) => l && (l.dSae != null || l.expansionFactor != null));
  if (sized?.dSae != null) out.dSae = sized.dSae;
  else if (sized?.expansionFactor != null) out.expansionFactor = sized.expansionFactor;
  return out as TrainConfigInput;
}

/**
 * Config with every default applied: `layers` merged as
 * {@link mergeTrainConfig} merges them, then the trainer's defaults.
 * totalTokens defaults to `defaultTokens` (one pass over the stored rows).
 */
export function resolveTrainConfig(layers: readonly (TrainConfigInput | undefined)[], defaultTokens: number): TrainConfigResolved {
  const m = mergeTrainConfig(layers);
  const dSae = m.dSae ?? null;
  const expansionFactor = dSae === null ? (m.expansionFactor ?? TRAIN_DEFAULTS.expansionFactor) : null;
  const d = TRAIN_DEFAULTS;
  return {
    architecture: m.architecture ?? 'topk',
    dSae,
    expansionFactor,
    k: m.k ?? d.k,
    l1Coefficient: m.l1Coefficient ?? d.l1Coefficient,
    l1WarmupSteps: m.l1WarmupSteps ?? d.l1WarmupSteps,
    initThreshold: m.initThreshold ?? d.initThreshold,
    bandwidth: m.bandwidth ?? d.bandwidth,
    lr: m.lr ?? d.lr,
    lrWarmupSteps: m.lrWarmupSteps ?? d.lrWarmupSteps,
    lrDecayFraction: m.lrDecayFraction ?? d.lrDecayFraction,
    beta1: m.beta1 ?? d.beta1,
    beta2: m.beta2 ?? d.beta2,
    batchSize: m.batchSize ?? d.batchSize,
    totalTokens: m.totalTokens ?? Math.max(1, Math.min(TRAINING_LIMITS.MAX_TOKENS, defaultTokens)),
    normalizeInputs: m.normalizeInputs ?? d.normalizeInputs,
    bDecInit: m.bDecInit ?? d.bDecInit,
    normalizeDecoder: m.normalizeDecoder ?? d.normalizeDecoder,
    deadFeatureWindow: m.deadFeatureWindow ?? d.deadFeatureWindow,
    denseThreshold: m.denseThreshold ?? d.denseThreshold,
    seed: m.seed ?? d.seed,
    metricsEvery: m.metricsEvery ?? d.metricsEvery,
    checkpointEvery: m.checkpointEvery ?? d.checkpointEvery,
    evalEvery: m.evalEvery ?? d.evalEvery,
    evalWindows: m.evalWindows ?? TRAINING_LIMITS.DEFAULT_EVAL_WINDOWS,
    mixingShards: m.mixingShards ?? d.mixingShards,
  };
}

/** The trainer's config from a resolved one. */
export function toTrainConfig(c: TrainConfigResolved): TrainConfig {
  const { dSae, expansionFactor, evalWindows: _, ...rest } = c;
  return { ...rest, ...(dSae !== null ? { dSae } : {}), ...(expansionFactor !== null ? { expansionFactor } : {}) };
}

/** What training needs to know of one hook's stored activations. */
export interface StoredHook {
  hook: string;
  /** row width */
  d: number;
  rows: number;
  shards: number;
}

/**
 * Checks a config against the hooks it trains on: d_sae within limits, k
 * below d_sae, a batch that the stored rows (and a group of mixed shards)
 * can fill. Throws {@link SettingsError} naming the field under `config.`.
 */
export function checkAgainstStore(c: TrainConfigResolved, hooks: readonly StoredHook[]): void {
  for (const h of hooks) {
    const dSae = resolveDSae(toTrainConfig(c), h.d);
    const sizeField = c.dSae !== null ? 'config.dSae' : 'config.expansionFactor';
    if (dSae < 1) throw new SettingsError(sizeField, `gives d_sae ${dSae} for ${h.hook} (d_in ${h.d})`);
    if (dSae > TRAINING_LIMITS.MAX_D_SAE) throw new SettingsError(sizeField, `gives d_sae ${dSae} for ${h.hook} (d_in ${h.d}), above the limit of ${TRAINING_LIMITS.MAX_D_SAE}`);
    if ((c.architecture === 'topk' || c.architecture === 'batchtopk') && c.k >= dSae) throw new SettingsError('config.k', `must be below d_sae (${dSae} for ${h.hook})`);
    if (h.rows < c.batchSize) throw new SettingsError('config.batchSize', `${c.batchSize} is more than the ${h.rows} rows stored for ${h.hook}`);
    // rows a group of mixed shards holds, about (the last shard may be shorter)
    const group = Math.floor(h.rows / Math.max(1, h.shards)) * Math.min(c.mixingShards, h.shards);
    if (group < c.batchSize) {
      throw new SettingsError('config.batchSize', `${c.batchSize} is more than the about ${group} rows of ${Math.min(c.mixingShards, h.shards)} shards shuffled together; lower it or raise config.mixingShards`);
    }
  }
}

/** A readable default name: architecture, size and hook points. */
export function defaultTrainingName(c: TrainConfigResolved, hooks: readonly string[]): string {
  const size = c.dSae !== null ? `${c.dSae} features` : `×${c.expansionFactor}`;
  const k = c.architecture === 'topk' || c.architecture === 'batchtopk' ? ` k=${c.k}` : '';
  const where = hooks.length <= 2 ? hooks.join(', ') : `${hooks[0]} and ${hooks.length - 1} more`;
  return `${c.architecture}${k} ${size} on ${where}`;
}
