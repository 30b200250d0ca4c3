/**
 * The plan of an extraction, in plain arithmetic (no I/O, safe to import
 * anywhere): which hook points can be stored, how settings resolve, how many
 * windows a token budget buys, and how they are cut from a tokenized dataset.
 *
 * Windows pack documents back to back (as pretraining does; documents are
 * separated by the BOS/EOS their tokenization added) and always hold exactly
 * `contextLength` tokens: with `prependBos`, BOS and `contextLength - 1`
 * dataset tokens. Window k starts at dataset token `k · stride`, so a window's
 * place never depends on memory: nothing is kept per window.
 */
import type { HookPoint } from '../architectures/decoder.ts';
import { EXTRACTION_LIMITS, shardIssue, type ExtractionSettings, type ExtractionSettingsInput, type HookStatsSummary } from '../contracts/extractions.ts';
import { SettingsError } from '../settings-error.ts';

/** True for a hook with one row per token ([batch, pos, ...fixed dims]): the ones an extraction stores. */
export function isPerToken(h: Pick<HookPoint, 'shape'>): boolean {
  return h.shape[0] === 'batch' && h.shape[1] === 'pos' && h.shape.slice(2).every((x) => typeof x === 'number');
}

/** The shape of one stored row of a per-token hook, e.g. [256] or [8, 32] for attn.hook_z. */
export function rowShape(h: Pick<HookPoint, 'shape'>): number[] {
  return h.shape.slice(2) as number[];
}

/**
 * The hook points of `requested` as the model has them; throws naming the
 * first that is unknown or not one row per token.
 */
export function resolveHooks(available: readonly HookPoint[], requested: readonly string[], field = 'hookPoints'): HookPoint[] {
  const byName = new Map(available.map((h) => [h.name, h]));
  return requested.map((name, i) => {
    const h = byName.get(name);
    if (!h) {
      const last = available.filter((x) => x.name.endsWith('hook_resid_post')).at(-1)?.name;
      throw new SettingsError(`${field}.${i}`, `unknown hook point "${name}"${last ? ` (this model has e.g. blocks.0.hook_resid_post … ${last})` : ''}`);
    }
    if (!isPerToken(h)) throw new SettingsError(`${field}.${i}`, `${name} is not one row per token (shape [${h.shape.join(', ')}]); extract hooks shaped [batch, pos, ...]`);
    return h;
  });
}

/**
 * windowsPerShard by default: shards of about SHARD_TARGET_BYTES per hook (as
 * float32) for the widest hook, in whole batches.
 */
export function defaultWindowsPerShard(contextLength: number, batchSize: number, widestRow: number): number {
  const windows = Math.floor(EXTRACTION_LIMITS.SHARD_TARGET_BYTES / (contextLength * Math.max(1, widestRow) * 4));
  return Math.max(1, Math.floor(windows / batchSize)) * batchSize;
}

/**
 * Settings with every default applied. `widestRow` is d of the widest hook
 * (for the shard size); `modelDtype` the model's default load dtype.
 */
export function resolveSettings(input: ExtractionSettingsInput, defaults: { modelDtype: ExtractionSettings['dtype']; widestRow: number }): ExtractionSettings {
  const contextLength = input.contextLength ?? EXTRACTION_LIMITS.DEFAULT_CONTEXT;
  const batchSize = input.batchSize ?? EXTRACTION_LIMITS.DEFAULT_BATCH;
  const s: ExtractionSettings = {
    dtype: input.dtype ?? defaults.modelDtype,
    storage: input.storage ?? EXTRACTION_LIMITS.DEFAULT_STORAGE,
    contextLength,
    batchSize,
    tokenBudget: input.tokenBudget ?? EXTRACTION_LIMITS.DEFAULT_TOKEN_BUDGET,
    stride: input.stride ?? null,
    keepBos: input.keepBos ?? false,
    prependBos: input.prependBos ?? null,
    windowsPerShard: input.windowsPerShard ?? defaultWindowsPerShard(contextLength, batchSize, defaults.widestRow),
  };
  const issue = shardIssue(s);
  if (issue) throw new SettingsError('windowsPerShard', issue);
  if (s.tokenBudget < s.contextLength) throw new SettingsError('tokenBudget', `${s.tokenBudget} tokens do not fill one window of contextLength ${s.contextLength}`);
  return s;
}

/** Checks settings against the model: the window fits its context. */
export function checkAgainstModel(s: Pick<ExtractionSettings, 'contextLength'>, model: { contextLength: number }): void {
  if (s.contextLength > model.contextLength) throw new SettingsError('contextLength', `${s.contextLength} exceeds the model's context length ${model.contextLength}`);
}

/** Where the windows of a run come from, resolved against one dataset. */
export interface WindowPlan {
  /** tokens a window through the model (contextLength) */
  length: number;
  /** dataset tokens a window (contextLength, or one less when BOS is prepended) */
  span: number;
  /** dataset tokens between window starts */
  stride: number;
  prependBos: boolean;
  /** windows the dataset holds */
  available: number;
  /** windows this run extracts: min(available, floor(tokenBudget / contextLength)) */
  total: number;
}

/**
 * The windows of a run over a dataset of `datasetTokens` tokens.
 * @param datasetAddsBos whether the dataset's tokenization added BOS to documents (the default of prependBos)
 */
export function planWindows(s: ExtractionSettings, datasetTokens: number, datasetAddsBos: boolean): WindowPlan {
  const prependBos = s.prependBos ?? datasetAddsBos;
  const span = s.contextLength - (prependBos ? 1 : 0);
  if (span < 1) throw new SettingsError('contextLength', 'must be at least 2 when BOS is prepended');
  const stride = s.stride ?? span;
  const available = datasetTokens >= span ? Math.floor((datasetTokens - span) / stride) + 1 : 0;
  if (available === 0) throw new SettingsError('contextLength', `the dataset's ${datasetTokens} tokens do not fill one window of ${span} tokens`);
  const total = Math.min(available, Math.floor(s.tokenBudget / s.contextLength));
  if (total === 0) throw new SettingsError('tokenBudget', `${s.tokenBudget} tokens do not fill one window of contextLength ${s.contextLength}`);
  return { length: s.contextLength, span, stride, prependBos, available, total };
}

/** The first dataset token of window `k`. */
export function windowStart(plan: Pick<WindowPlan, 'stride'>, k: number): number {
  return k * plan.stride;
}

/** The summary of a hook's statistics kept with a run (see hookStatsSummarySchema). */
export function statsSummary(s: { count: number; mean: readonly number[]; variance: readonly number[]; meanNorm: number }): HookStatsSummary {
  const d = Math.max(1, s.mean.length);
  let meanOfMeans = 0;
  let meanVariance = 0;
  let maxVariance = 0;
  for (let i = 0; i < s.mean.length; i++) {
    meanOfMeans += s.mean[i]!;
    meanVariance += s.variance[i]!;
    maxVariance = Math.max(maxVariance, s.variance[i]!);
  }
  return { count: s.count, meanNorm: s.meanNorm, meanOfMeans: meanOfMeans / d, meanVariance: meanVariance / d, maxVariance };
}

/**
 * Per-dimension values downsampled deterministically to at most `buckets`
 * buckets of `bucket` consecutive dimensions: each bucket's mean and max.
 * @example varianceProfile([1, 3, 2, 2], 2) // {bucket: 2, mean: [2, 2], max: [3, 2]}
 */
export function varianceProfile(values: readonly number[], buckets: number): { bucket: number; mean: number[]; max: number[] } {
  const bucket = Math.max(1, Math.ceil(values.length / buckets));
  const mean: number[] = [];
  const max: number[] = [];
  for (let i = 0; i < values.length; i += bucket) {
    const part = values.slice(i, i + bucket);
    mean.push(part.reduce((a, b) => a + b, 0) / part.length);
    max.push(Math.max(...part));
  }
  return { bucket, mean, max };
}
