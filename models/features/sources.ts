/**
 * Where a discovery's activation rows come from (discover.ts reads them in
 * units, in order, twice):
 *
 * - {@link openStoredSource}: an extraction's activation store, a unit per
 *   shard;
 * - {@link textSource}: text through the model, a unit per batch of windows
 *   of a tokenized dataset, the graph stopping at the SAE's hook (no
 *   activation store is written). The windows and the rows kept are those an
 *   extraction with default settings but the context length and token budget
 *   stores (models/activations/run.ts; {@link textSettings}), so the two
 *   sources give the same features, within float rounding.
 */
import { concat, type WindowSource } from '../activations/extract.ts';
import { checkAgainstModel, planWindows, resolveHooks, rowShape, type WindowPlan } from '../activations/plan.ts';
import { SettingsError } from '../settings-error.ts';
import { windowSource } from '../activations/run.ts';
import { readManifest, readShard } from '../activations/store.ts';
import type { HookPoint } from '../architectures/decoder.ts';
import { EXTRACTION_LIMITS, type ExtractionSettings } from '../contracts/extractions.ts';
import type { DiscoveryText } from '../contracts/features.ts';
import type { TokenStore } from '../datasets/format.ts';
import type { LoadedModel } from '../model.ts';
import type { ModelDtype } from '../quantize.ts';

/** Activation rows of one unit. */
export interface ActivationRows {
  /** [rows, d] */
  data: Float32Array;
  rows: number;
  /** [rows] dataset offset (in tokens.bin) of each row's token */
  positions: BigInt64Array;
}

/** A source read in units, in order; reading a unit twice gives the same rows. */
export interface ActivationSource {
  /** for messages: the store's folder and hook, or the model and hook */
  readonly name: string;
  /** values a row */
  readonly d: number;
  readonly units: number;
  /** the progress a unit counts for: its rows (a shard), or the tokens it runs through the model (a batch of windows) */
  size(unit: number): number;
  /** sum of every unit's size */
  readonly total: number;
  read(unit: number): Promise<ActivationRows>;
  /**
   * False when unit `unit` holds no row at a position `wanted` accepts, so
   * that the examples pass can skip it unread; true when it may (or when it
   * cannot tell without reading). Left out: every unit is read.
   */
  mayHold?(unit: number, wanted: (position: number) => boolean): boolean;
}

/** The stored activations of `hook` in an extraction's folder, a unit per shard. */
export async function openStoredSource(dir: string, hook: string): Promise<ActivationSource & { rows: number }> {
  const manifest = await readManifest(dir);
  const h = manifest?.hooks[hook];
  if (!h) throw new Error(`${dir}: no activations for hook "${hook}"`);
  return {
    name: `${dir} (${hook})`,
    d: h.d,
    units: h.shards.length,
    rows: h.rows,
    total: h.rows,
    size: (u) => h.shards[u]!.rows,
    read: (u) => readShard(dir, h, u),
  };
}

export interface TextSourceOptions {
  model: LoadedModel;
  /** the hook point whose rows are wanted (one row per token) */
  hook: string;
  windows: WindowSource;
  /** windows to run, at most windows.count */
  windowsTotal: number;
  /** windows a unit (and a forward pass, out-of-memory fallbacks aside) */
  batchSize: number;
  /** dataset tokens between window starts, and whether each window starts with a prepended BOS (where a unit's positions lie) */
  stride: number;
  prependBos: boolean;
  /** token ids whose rows are left out (BOS), as the extraction leaves them out */
  skipTokenIds?: readonly number[];
  onFallback?(message: string): void;
}

/**
 * Text through the model up to `hook`: unit u is windows [u·batch, (u+1)·batch),
 * run with models/model.ts forwardChunks (on out-of-memory: half the rows,
 * then the CPU). A row's position is its token's dataset offset, as
 * extract.ts stores it.
 */
export function textSource(o: TextSourceOptions): ActivationSource {
  const hp = o.model.hookPoints.find((h) => h.name === o.hook);
  if (!hp) throw new Error(`unknown hook point "${o.hook}"`);
  if (hp.shape[1] !== 'pos' || hp.shape.slice(2).some((x) => typeof x !== 'number')) throw new Error(`${o.hook} is not one row per token (shape [${hp.shape.join(', ')}])`);
  const d = (hp.shape.slice(2) as number[]).reduce((a, b) => a * b, 1);
  const T = o.windows.length;
  const total = Math.min(o.windowsTotal, o.windows.count);
  const B = Math.max(1, o.batchSize);
  const units = Math.ceil(total / B);
  const windowsOf = (u: number) => ({ first: u * B, n: Math.min(B, total - u * B) });
  const skip = new Set(o.skipTokenIds ?? []);
  /** rows per forward pass: shrinks after an out-of-memory fallback and stays so */
  let rowsPerRun = B;
  const off = o.prependBos ? 1 : 0;

  return {
    name: `${o.model.dir} (${o.hook})`,
    d,
    units,
    total: total * T,
    size: (u) => windowsOf(u).n * T,
    async read(u) {
      const { first, n } = windowsOf(u);
      const { ids, starts } = await o.windows.read(first, n);
      const parts: Float32Array[] = [];
      const ran = await o.model.forwardChunks(ids, [n, T], [o.hook], {
        rows: Math.min(n, rowsPerRun),
        onChunk: (_first, out) => {
          parts.push(out[o.hook]!.data);
        },
        onFallback: o.onFallback,
      });
      rowsPerRun = Math.min(rowsPerRun, ran.rows);
      const all = concat(parts);
      let kept = 0;
      for (let i = 0; i < n * T; i++) if (!skip.has(Number(ids[i]))) kept++;
      const data = kept === n * T ? all : new Float32Array(kept * d);
      const positions = new BigInt64Array(kept);
      for (let w = 0, k = 0; w < n; w++) {
        for (let t = 0; t < T; t++) {
          const i = w * T + t;
          if (skip.has(Number(ids[i]))) continue;
          if (data !== all) data.set(all.subarray(i * d, (i + 1) * d), k * d);
          positions[k++] = starts[w]! + BigInt(t);
        }
      }
      return { data, rows: kept, positions };
    },
    mayHold(u, wanted) {
      const { first, n } = windowsOf(u);
      // window w's row t is dataset token w·stride − off + t
      for (let w = first; w < first + n; w++) {
        const lo = w * o.stride - off;
        for (let p = Math.max(0, lo); p < lo + T; p++) if (wanted(p)) return true;
      }
      return false;
    },
  };
}

/**
 * The extraction settings whose windows and rows a discovery over text
 * reads: the defaults of an extraction (windows packed back to back, BOS
 * prepended when the dataset's documents start with one, BOS rows left out,
 * batches of 8) with its context length and `maxTokens` as the token budget.
 */
export function textSettings(text: DiscoveryText, dtype: ModelDtype): ExtractionSettings {
  const batchSize = EXTRACTION_LIMITS.DEFAULT_BATCH;
  return { dtype, storage: 'f32', contextLength: text.contextLength, batchSize, tokenBudget: text.maxTokens, stride: null, keepBos: false, prependBos: null, windowsPerShard: batchSize };
}

/**
 * Checks a discovery over text against its model and dataset (no I/O):
 * the SAE's hook is one row of `dIn` values per token, the window fits the
 * model, the dataset fills at least one window. Throws an
 * {@link SettingsError} naming the field of `POST /api/discoveries`
 * (`saeId`, `contextLength`, `maxTokens`, `datasetId`); returns the windows.
 */
export function planText(
  text: DiscoveryText,
  o: { hookPoints: readonly HookPoint[]; hook: string; dIn: number; modelContext: number; modelVocab: number; dataset: { tokens: number; vocabSize: number; addsBos: boolean } },
): WindowPlan {
  let hp: HookPoint;
  try {
    [hp] = resolveHooks(o.hookPoints, [o.hook], 'saeId') as [HookPoint];
  } catch (err) {
    throw err instanceof SettingsError ? new SettingsError('saeId', err.reason) : err;
  }
  const d = rowShape(hp).reduce((a, b) => a * b, 1);
  if (d !== o.dIn) throw new SettingsError('saeId', `${o.hook} gives ${d} values a token; the SAE takes ${o.dIn}`);
  if (o.dataset.vocabSize > o.modelVocab) throw new SettingsError('datasetId', `the dataset was tokenized with a vocabulary of ${o.dataset.vocabSize} tokens; the model has ${o.modelVocab}`);
  const s = textSettings(text, 'fp32');
  try {
    checkAgainstModel(s, { contextLength: o.modelContext });
    return planWindows(s, o.dataset.tokens, o.dataset.addsBos);
  } catch (err) {
    if (err instanceof SettingsError && err.field === 'tokenBudget') throw new SettingsError('maxTokens', err.reason.replace(/^(\d+) tokens/, '$1 tokens (maxTokens)'));
    throw err;
  }
}

/**
 * The text source of a discovery: the windows of {@link textSettings} over
 * the dataset in `store`, through `model` up to `hook`.
 */
export function openTextSource(o: { model: LoadedModel; store: TokenStore; hook: string; dIn: number; text: DiscoveryText; onFallback?(message: string): void }): ActivationSource {
  const meta = o.store.meta;
  const plan = planText(o.text, {
    hookPoints: o.model.hookPoints,
    hook: o.hook,
    dIn: o.dIn,
    modelContext: o.model.spec.contextLength,
    modelVocab: o.model.spec.vocabSize,
    dataset: { tokens: o.store.tokens, vocabSize: meta.tokenizer.vocabSize, addsBos: meta.settings.addBos },
  });
  const bosId = meta.tokenizer.bosId;
  if (plan.prependBos && bosId === null) throw new SettingsError('datasetId', "the dataset's tokenizer has no BOS token to prepend");
  const s = textSettings(o.text, o.model.dtype);
  return textSource({
    model: o.model,
    hook: o.hook,
    windows: windowSource(o.store, plan, bosId ?? 0),
    windowsTotal: plan.total,
    batchSize: s.batchSize,
    stride: plan.stride,
    prependBos: plan.prependBos,
    skipTokenIds: bosId === null ? [] : [bosId],
    ...(o.onFallback ? { onFallback: o.onFallback } : {}),
  });
}
