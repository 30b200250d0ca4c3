/**
 * The hyperparameters of a training, resolved and checked against the
 * activations it trains on, in plain arithmetic (no I/O): shared by the API
 * (which answers a 400 naming the field), the job and `loupe train`.
 */
import { TRAIN_DEFAULTS, TRAINING_LIMITS, type TrainConfigInput, type TrainConfigResolved } from '../contracts/trainings.ts';
import { SettingsError } from '../settings-error.ts';
import { resolveDSae, type TrainConfig } from './train.ts';

/**
 * Config with every default applied: `layers` in order of precedence, the
 * first one that gives a field wins (a layer that gives dSae or
 * expansionFactor decides both). totalTokens defaults to `defaultTokens`
 * (one pass over the stored rows).
 */
export function resolveTrainConfig(layers: readonly (TrainConfigInput | undefined)[], defaultTokens: number): TrainConfigResolved {
  const pick = <K extends keyof TrainConfigInput>(k: K): TrainConfigInput[K] | undefined => {
    for (const l of layers) if (l && l[k] !== undefined) return l[k];
    return undefined;
  };
  const sized = layers.find((l) => l && (l.dSae != null || l.expansionFactor != null));
  const dSae = sized?.dSae ?? null;
  const expansionFactor = dSae === null ? (sized?.expansionFactor ?? TRAIN_DEFAULTS.expansionFactor) : null;
  const d = TRAIN_DEFAULTS;
  return {
    architecture: pick('architecture') ?? 'topk',
    dSae,
    expansionFactor,
    k: pick('k') ?? d.k,
    l1Coefficient: pick('l1Coefficient') ?? d.l1Coefficient,
    l1WarmupSteps: pick('l1WarmupSteps') ?? d.l1WarmupSteps,
    initThreshold: pick('initThreshold') ?? d.initThreshold,
    bandwidth: pick('bandwidth') ?? d.bandwidth,
    lr: pick('lr') ?? d.lr,
    lrWarmupSteps: pick('lrWarmupSteps') ?? d.lrWarmupSteps,
    lrDecayFraction: pick('lrDecayFraction') ?? d.lrDecayFraction,
    beta1: pick('beta1') ?? d.beta1,
    beta2: pick('beta2') ?? d.beta2,
    batchSize: pick('batchSize') ?? d.batchSize,
    totalTokens: pick('totalTokens') ?? Math.max(1, Math.min(TRAINING_LIMITS.MAX_TOKENS, defaultTokens)),
    normalizeInputs: pick('normalizeInputs') ?? d.normalizeInputs,
    bDecInit: pick('bDecInit') ?? d.bDecInit,
    normalizeDecoder: pick('normalizeDecoder') ?? d.normalizeDecoder,
    deadFeatureWindow: pick('deadFeatureWindow') ?? d.deadFeatureWindow,
    denseThreshold: pick('denseThreshold') ?? d.denseThreshold,
    seed: pick('seed') ?? d.seed,
    metricsEvery: pick('metricsEvery') ?? d.metricsEvery,
    checkpointEvery: pick('checkpointEvery') ?? d.checkpointEvery,
    evalEvery: pick('evalEvery') ?? d.evalEvery,
    evalWindows: pick('evalWindows') ?? TRAINING_LIMITS.DEFAULT_EVAL_WINDOWS,
    mixingShards: pick('mixingShards') ?? d.mixingShards,
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
