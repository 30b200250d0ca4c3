/**
 * One extraction from folders to folder: a model folder, a tokenized dataset
 * folder and settings → the activation store in `outDir` (see store.ts). The
 * `activations.extract` job and `loupe extract` are thin adapters over
 * {@link runExtraction}.
 *
 * - Resume: when `outDir` holds a manifest with the same settings, the run
 *   continues at the window after its last shard and writes the bytes an
 *   uninterrupted run would (a manifest with other settings is refused,
 *   naming the setting). Leftovers of a crash — temporary files, a shard
 *   renamed into place whose manifest never followed — are removed first.
 * - Stop: on an abort the run stops before the next batch, waits for a shard
 *   write in flight (so nothing is written after it returns) and throws the
 *   abort reason. Shards are written under temporary names and renamed, the
 *   manifest last, so no partial shard ever has a final name.
 * - Memory: one shard per hook plus two batches, whatever the token budget;
 *   windows are computed from their index, never listed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openTokenStore, type TokenStore } from '../datasets/format.ts';
import { loadModel, type LoadedModel } from '../model.ts';
import type { Device, Placement } from '../runtime.ts';
import type { ExtractionSettings } from '../contracts/extractions.ts';
import { extractActivations, type WindowSource } from './extract.ts';
import { checkAgainstModel, planWindows, resolveHooks, rowShape, windowStart, type WindowPlan } from './plan.ts';
import { SettingsError } from '../settings-error.ts';
import { hookDirName, hookStats, openActivationWriter, type ActivationManifest, type ActivationWriter, type HookStats } from './store.ts';

/** The folder of extraction `id` under DATA_DIR. */
export function activationsDir(dataDir: string, id: string): string {
  return path.join(path.resolve(dataDir), 'activations', id);
}

/** Where a run is, for progress reports. */
export interface RunProgress {
  phase: 'loading' | 'extracting' | 'finishing' | 'done';
  windowsDone: number;
  windowsTotal: number;
  /** tokens through the model (windows × contextLength) */
  tokensDone: number;
  tokensTotal: number;
  /** rows stored per hook */
  rows: number;
  /** shards written per hook */
  shards: number;
  /** this run's rate (a resumed run counts from where it started) */
  tokensPerSecond: number;
  etaSeconds: number | null;
}

export interface RunExtractionOptions {
  modelDir: string;
  datasetDir: string;
  outDir: string;
  hookPoints: readonly string[];
  settings: ExtractionSettings;
  /** execution provider; default LOUPE_DEVICE */
  device?: Device;
  signal?: AbortSignal;
  /** after loading, after every batch and at the end */
  onProgress?(p: RunProgress): void;
  /** out-of-memory fallbacks (a smaller chunk, then the CPU) */
  onFallback?(message: string): void;
  /** where the model runs, once its session is made and whenever that changes (an out-of-memory move to the CPU) */
  onPlacement?(p: Placement): void;
}

export interface RunResult {
  manifest: ActivationManifest;
  plan: WindowPlan;
  /** per hook, exact over every stored row */
  stats: Record<string, HookStats>;
  /** windows that were already stored when this run started (0 for a fresh run) */
  resumedAt: number;
  progress: RunProgress;
}

/** Ids [n, T] of windows [first, first + n), with their first token's dataset offset (-1 for a prepended BOS). */
export function windowSource(store: TokenStore, plan: WindowPlan, bosId: number): WindowSource {
  const T = plan.length;
  const off = plan.prependBos ? 1 : 0;
  return {
    count: plan.total,
    length: T,
    async read(first, n) {
      const ids = new BigInt64Array(n * T);
      const starts = new BigInt64Array(n);
      const put = (w: number, tokens: Uint32Array, at: number) => {
        if (off) ids[w * T] = BigInt(bosId);
        for (let t = 0; t < plan.span; t++) ids[w * T + off + t] = BigInt(tokens[at + t]!);
        // extract.ts stores row t of window w at starts[w] + t: with BOS first, dataset token t - 1 is row t
        starts[w] = BigInt(windowStart(plan, first + w) - off);
      };
      if (plan.stride <= plan.span) {
        // overlapping or adjacent windows: one read covers the batch
        const s0 = windowStart(plan, first);
        const tokens = await store.readTokens(s0, (n - 1) * plan.stride + plan.span);
        for (let w = 0; w < n; w++) put(w, tokens, w * plan.stride);
      } else {
        for (let w = 0; w < n; w++) put(w, await store.readTokens(windowStart(plan, first + w), plan.span), 0);
      }
      return { ids, starts };
    },
  };
}

/**
 * The writer as extract.ts sees it, keeping the write in flight so that a
 * stopped run can wait for it (and its failure is never unhandled), and
 * marking prepended BOS rows with position -1 when they are kept.
 */
function trackWrites(writer: ActivationWriter, prependedRows: number | null): { writer: ActivationWriter; settle(): Promise<void> } {
  let last: Promise<void> = Promise.resolve();
  const tracked: ActivationWriter = {
    get manifest() {
      return writer.manifest;
    },
    windowsDone: writer.windowsDone,
    append(windows, perHook, positions) {
      // Every position is kept when BOS is kept: window w's rows are [w·T, (w+1)·T), its BOS first.
      if (prependedRows !== null) for (let w = 0; w < windows; w++) positions[w * prependedRows] = -1n;
      const p = writer.append(windows, perHook, positions);
      p.catch(() => undefined);
      last = p;
      return p;
    },
    finish: () => writer.finish(),
    bufferedRows: () => writer.bufferedRows(),
  };
  return { writer: tracked, settle: () => last.then(() => undefined, () => undefined) };
}

/** Removes what a crash can leave in a store: temporary files, and shards its manifest does not list. */
async function removeLeftovers(outDir: string, manifest: ActivationManifest): Promise<string[]> {
  const removed: string[] = [];
  const tmp = /^\..*\.tmp$/;
  for (const f of await fs.readdir(outDir)) if (tmp.test(f)) removed.push(f);
  for (const h of Object.values(manifest.hooks)) {
    const dir = hookDirName(h.hook);
    const listed = new Set(h.shards.map((s) => s.file));
    for (const f of await fs.readdir(path.join(outDir, dir)).catch(() => [] as string[])) {
      const rel = path.join(dir, f);
      if (tmp.test(f) || (/^shard-\d+\.safetensors$/.test(f) && !listed.has(rel))) removed.push(rel);
    }
  }
  await Promise.all(removed.map((f) => fs.rm(path.join(outDir, f), { force: true })));
  return removed;
}

/**
 * Runs (or resumes) one extraction. Throws {@link SettingsError}
 * for settings that cannot work with this model and dataset (before anything
 * is written), the abort reason when `signal` aborts, or what failed.
 */
export async function runExtraction(o: RunExtractionOptions): Promise<RunResult> {
  const { settings: s, signal } = o;
  const started = performance.now();
  const store = await openTokenStore(o.datasetDir);
  let model: LoadedModel | undefined;
  try {
    const meta = store.meta;
    const plan = planWindows(s, store.tokens, meta.settings.addBos);
    const bosId = meta.tokenizer.bosId;
    if (plan.prependBos && bosId === null) throw new SettingsError('prependBos', 'the dataset\'s tokenizer has no BOS token to prepend');
    const base = { windowsDone: 0, windowsTotal: plan.total, tokensDone: 0, tokensTotal: plan.total * plan.length, rows: 0, shards: 0, tokensPerSecond: 0, etaSeconds: null };
    o.onProgress?.({ phase: 'loading', ...base });

    signal?.throwIfAborted();
    model = await loadModel(o.modelDir, { dtype: s.dtype, ...(o.device ? { device: o.device } : {}), ...(o.onPlacement ? { onPlacement: o.onPlacement } : {}) });
    signal?.throwIfAborted();
    const hooks = resolveHooks(model.hookPoints, o.hookPoints);
    checkAgainstModel(s, model.spec);
    if (meta.tokenizer.vocabSize > model.spec.vocabSize) {
      throw new SettingsError('datasetId', `the dataset was tokenized with a vocabulary of ${meta.tokenizer.vocabSize} tokens; this model has ${model.spec.vocabSize}`);
    }

    // Everything that decides the bytes: a resume with anything else is refused.
    const manifestSettings = {
      hookPoints: [...o.hookPoints],
      dtype: s.dtype,
      storage: s.storage,
      contextLength: s.contextLength,
      batchSize: s.batchSize,
      tokenBudget: s.tokenBudget,
      stride: plan.stride,
      keepBos: s.keepBos,
      prependBos: plan.prependBos,
      bosId,
      model: { modelType: model.spec.modelType, layers: model.spec.nLayers, dModel: model.spec.dModel, vocabSize: model.spec.vocabSize },
      dataset: { tokens: store.tokens, documents: store.documents, createdAt: meta.createdAt },
    };
    const writer = await openActivationWriter(o.outDir, {
      hooks: hooks.map((h) => ({ hook: h.name, rowShape: rowShape(h) })),
      dtype: s.storage,
      windowsTotal: plan.total,
      windowsPerShard: s.windowsPerShard,
      settings: manifestSettings,
    });
    await removeLeftovers(o.outDir, writer.manifest);
    const resumedAt = writer.windowsDone;
    const tracked = trackWrites(writer, plan.prependBos && s.keepBos ? plan.length : null);
    const shards = () => Object.values(writer.manifest.hooks)[0]?.shards.length ?? 0;
    const startRows = Object.values(writer.manifest.hooks)[0]?.rows ?? 0;
    let last: RunProgress = { phase: 'extracting', ...base, windowsDone: resumedAt, tokensDone: resumedAt * plan.length, rows: startRows, shards: shards() };
    o.onProgress?.(last);

    try {
      await extractActivations({
        model,
        hooks: o.hookPoints,
        windows: windowSource(store, plan, bosId ?? 0),
        windowsTotal: plan.total,
        batchSize: s.batchSize,
        writer: tracked.writer,
        skipTokenIds: s.keepBos || bosId === null ? [] : [bosId],
        ...(signal ? { signal } : {}),
        onProgress: (p) => {
          last = { ...last, windowsDone: p.windowsDone, tokensDone: p.tokensDone, rows: p.rows, shards: shards(), tokensPerSecond: p.tokensPerSecond, etaSeconds: p.etaSeconds };
          o.onProgress?.(last);
        },
        ...(o.onFallback ? { onFallback: o.onFallback } : {}),
      });
    } catch (err) {
      await tracked.settle();
      throw err;
    }
    signal?.throwIfAborted();
    o.onProgress?.({ ...last, phase: 'finishing' });
    const manifest = await writer.finish();
    const stats = Object.fromEntries(Object.values(manifest.hooks).map((h) => [h.hook, hookStats(h)]));
    const seconds = (performance.now() - started) / 1000;
    const progress: RunProgress = {
      ...last,
      phase: 'done',
      windowsDone: manifest.windowsDone,
      tokensDone: manifest.windowsDone * plan.length,
      rows: Object.values(manifest.hooks)[0]?.rows ?? 0,
      shards: shards(),
      tokensPerSecond: seconds > 0 ? Math.round(((manifest.windowsDone - resumedAt) * plan.length) / seconds) : 0,
      etaSeconds: 0,
    };
    o.onProgress?.(progress);
    return { manifest, plan, stats, resumedAt, progress };
  } finally {
    await model?.close();
    await store.close();
  }
}

