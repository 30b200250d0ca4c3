/**
 * `features.analyze`: one analysis of one feature (models/features/analysis.ts
 * does the work), its result stored in `analysis_cache` under the job's key
 * with an expiry of ANALYSIS_TTL_HOURS; the server's request waits for it.
 *
 * - logit-lens: W_dec[f] through the model's head under the convention the
 *   request names (models/features/lens.ts): top and bottom tokens.
 * - correlations: Pearson correlation with every other feature over the
 *   stored activations of the SAE's extraction (its latest discovery's, else
 *   its training's); the labels are added by the server when it answers, so
 *   they stay current.
 * - ablation: the model loaded with the ablation intervention at the SAE's
 *   hook, run on the feature's top example windows one by one (they differ
 *   in length), the feature zeroed or clamped: the loss and perplexity over
 *   every predicted token, the change per position, and the next-token
 *   probabilities that moved most.
 * - encode (of an SAE, not a feature: `POST /api/saes/{id}/encode`): the
 *   job's tokens, after the BOS the server chose, through the model to the
 *   SAE's hook and through its encoder (models/features/token-features.ts):
 *   per token, its topK largest active features, with the token's text.
 * - inspector (of an SAE: `GET /api/saes/{id}/inspector`): the files the
 *   browser's inspector downloads, written once under DATA_DIR/inspector/<sae>/
 *   (models/features/inspector-bundle.ts); the cached result is their manifest.
 *
 * Loaded models are kept for the next jobs (at most {@link MODEL_CACHE}: an
 * ablation model per SAE, whose weights it bakes in), so a feature's second
 * analysis skips building the graph; so are the heads the lens reads (one
 * per model folder, at most {@link MODEL_CACHE}), and for encode the model
 * without interventions and the SAE's encoder (at most {@link MODEL_CACHE} each).
 */
import { POLICY } from '../models/config.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { ENCODE_LIMITS, type EncodeResult } from '../models/contracts/encode.ts';
import { analyzeJobDataSchema, FEATURE_LIMITS, logitLensQuerySchema, type AnalyzeJobData } from '../models/contracts/features.ts';
import { ablate, ablationIntervention, correlations } from '../models/features/analysis.ts';
import { logitLens, readUnembedding, type Unembedding } from '../models/features/lens.ts';
import { encodeTokens } from '../models/features/token-features.ts';
import { buildInspectorBundle } from '../models/features/inspector-bundle.ts';
import { loadModel, type LoadedModel } from '../models/model.ts';
import { ModelFormatError } from '../models/architectures/limits.ts';
import type { Device } from '../models/runtime.ts';
import { createEncoder, type SaeEncoder } from '../models/sae/encode.ts';
import { loadSae, SaeFormatError } from '../models/sae/saelens.ts';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.ts';
import { putCachedAnalysis } from '../db/queries/analysis.ts';
import { extractionOfSae, modelDirOfSae, modelOfSae } from '../db/queries/discoveries.ts';
import { getExtraction } from '../db/queries/extractions.ts';
import { getFeature } from '../db/queries/features.ts';
import { getSae, type SaeRow } from '../db/queries/saes.ts';
import { PermanentJobError, type JobKind } from './job.ts';

/** Loaded models kept between jobs. */
const MODEL_CACHE = 2;
/** Stored rows correlations run over (the first ones of the store). */
const CORRELATION_ROWS = 50_000;
/** Next-token probabilities reported as moved. */
const MOVED = 10;

const models = new Map<string, Promise<LoadedModel>>();
const heads = new Map<string, Promise<Unembedding>>();
const tokenizers = new Map<string, Promise<Tokenizer>>();
const encoders = new Map<string, Promise<{ encoder: SaeEncoder; dSae: number }>>();

/** An entry of `cache`, or loaded (the oldest entry dropped, and `close`d, when the cache is full). */
function cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>, close?: (x: T) => Promise<void>): Promise<T> {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = load();
  p.catch(() => cache.delete(key));
  cache.set(key, p);
  while (cache.size > MODEL_CACHE) {
    const [oldest, m] = cache.entries().next().value!;
    cache.delete(oldest);
    if (close) void m.then(close).catch(() => undefined);
  }
  return p;
}

function cachedTokenizer(dir: string): Promise<Tokenizer> {
  let t = tokenizers.get(dir);
  if (!t) {
    t = loadTokenizer(dir);
    t.catch(() => tokenizers.delete(dir));
    tokenizers.set(dir, t);
  }
  return t;
}

const texts = (tok: Tokenizer, ids: readonly number[]) => tok.tokenStrings(ids);

/** The SAE's weights, a missing or malformed folder being a permanent failure. */
async function saeFiles(sae: SaeRow) {
  try {
    return await loadSae(sae.path);
  } catch (err) {
    throw err instanceof SaeFormatError || (err as NodeJS.ErrnoException).code === 'ENOENT' ? new PermanentJobError(`SAE ${sae.id}: ${(err as Error).message}`, { cause: err }) : err;
  }
}

/** An encode job's result: the server has checked the tokens against the model (vocabulary, context) and the SAE (topK). */
async function encode(sae: SaeRow, modelDir: string, tokens: NonNullable<AnalyzeJobData['tokens']>, topK: number, device: Device, signal: AbortSignal): Promise<EncodeResult> {
  const enc = await cached(
    encoders,
    `${sae.id}:${sae.path}`,
    async () => {
      const { cfg, weights } = await saeFiles(sae);
      return { encoder: await createEncoder(cfg, weights, { device }), dSae: cfg.dSae };
    },
    (e) => e.encoder.release(),
  );
  const model = await cached(
    models,
    `plain:${modelDir}`,
    () =>
      loadModel(modelDir, { device }).catch((err: unknown) => {
        throw err instanceof ModelFormatError ? new PermanentJobError(`the model of SAE ${sae.id}: ${err.message}`, { cause: err }) : err;
      }),
    (m) => m.close(),
  );
  const tok = await cachedTokenizer(modelDir);
  const r = await encodeTokens({ model, encoder: enc.encoder, hook: sae.hookPoint, dSae: enc.dSae, ids: tokens.ids, bos: tokens.bos, topK, signal });
  const shown = texts(tok, tokens.ids);
  return { addedBos: tokens.bos !== null, tokens: tokens.ids.map((id, i) => ({ id, text: shown[i]!, features: r.features[i]! })), device: r.device };
}

export const featuresAnalyze: JobKind<AnalyzeJobData> = {
  name: 'features.analyze',
  queue: JOB_QUEUES['features.analyze'],
  async handler(job, ctx) {
    const data = analyzeJobDataSchema.parse(job.data);
    const { db } = ctx.database;
    const sae = await getSae(db, data.saeId);
    if (!sae) throw new PermanentJobError(`SAE ${data.saeId} is gone`);
    const ttlMs = ctx.config.analysisTtlHours * 3600_000;
    if (data.kind === 'encode') {
      if (!data.tokens) throw new PermanentJobError('an encode job needs its tokens');
      const modelDir = await modelDirOfSae(db, sae.id);
      if (!modelDir) throw new PermanentJobError(`SAE ${sae.id} has no model: import it with its model, or run a discovery on an extraction of that model`);
      const topK = Number(data.params.topK ?? ENCODE_LIMITS.DEFAULT_TOP_K);
      const result = await encode(sae, modelDir, data.tokens, topK, ctx.config.device, ctx.signal);
      await putCachedAnalysis(db, { key: data.key, kind: data.kind, saeId: sae.id, featureIndex: null, result, ttlMs });
      return { key: data.key };
    }
    if (data.kind === 'inspector') {
      const model = await modelOfSae(db, sae.id);
      if (!model) throw new PermanentJobError(`SAE ${sae.id} has no model: import it with its model, or run a discovery on an extraction of that model`);
      const result = await buildInspectorBundle({
        dataDir: ctx.config.dataDir,
        saeId: sae.id,
        modelId: model.id,
        saeDir: sae.path,
        modelDir: model.path,
        hookPoint: sae.hookPoint,
        maxBytes: POLICY.INSPECTOR_MAX_BYTES,
        signal: ctx.signal,
      }).catch((err: unknown) => {
        throw err instanceof SaeFormatError || err instanceof ModelFormatError ? new PermanentJobError(`SAE ${sae.id}: ${(err as Error).message}`, { cause: err }) : err;
      });
      await putCachedAnalysis(db, { key: data.key, kind: data.kind, saeId: sae.id, featureIndex: null, result, ttlMs });
      return { key: data.key };
    }
    if (data.index === null) throw new PermanentJobError(`a ${data.kind} job needs a feature index`);
    if (data.index >= sae.dSae) throw new PermanentJobError(`SAE ${sae.id} has ${sae.dSae} features; there is no feature ${data.index}`);
    const { cfg, weights: w } = await saeFiles(sae);
    const extractionId = await extractionOfSae(db, sae.id);
    const device = ctx.config.device;
    const f = data.index;
    let result: unknown;

    if (data.kind === 'correlations') {
      const extraction = extractionId ? await getExtraction(db, extractionId) : undefined;
      if (!extraction?.path) throw new PermanentJobError(`SAE ${sae.id} has no stored activations to correlate over: its extraction is gone`);
      const k = Number(data.params.k ?? FEATURE_LIMITS.DEFAULT_CORRELATIONS_K);
      const c = await correlations(extraction.path, sae.hookPoint, cfg, w, f, { k, maxRows: CORRELATION_ROWS, device });
      result = { rows: c.rows, positive: c.positive, negative: c.negative, device: { sae: c.placement } };
    } else {
      const modelDir = await modelDirOfSae(db, sae.id);
      if (!modelDir) throw new PermanentJobError(`SAE ${sae.id} has no model: import it with its model, or run a discovery on an extraction of that model`);
      const tok = await cachedTokenizer(modelDir);
      if (data.kind === 'logit-lens') {
        const head = await cached(heads, modelDir, () =>
          readUnembedding(modelDir).catch((err: unknown) => {
            throw err instanceof ModelFormatError ? new PermanentJobError(`the model of SAE ${sae.id}: ${err.message}`, { cause: err }) : err;
          }),
        );
        if (head.dModel !== cfg.dIn) throw new PermanentJobError(`SAE ${sae.id} reads ${cfg.dIn}-wide activations, but its model's residual stream is ${head.dModel} wide`);
        const k = Number(data.params.k ?? FEATURE_LIMITS.DEFAULT_LENS_K);
        const norm = logitLensQuerySchema.shape.norm.parse(data.params.norm);
        const r = logitLens(head, w.W_dec.subarray(f * cfg.dIn, (f + 1) * cfg.dIn), { k, norm });
        const withText = (xs: { token: number; value: number }[]) => {
          const t = texts(tok, xs.map((x) => x.token));
          return xs.map((x, i) => ({ token: x.token, text: t[i]!, value: x.value }));
        };
        result = { norm, top: withText(r.top), bottom: withText(r.bottom) };
      } else {
        const feature = await getFeature(db, sae.id, f);
        const examples = (feature?.examples ?? []).filter((e) => e.tokens.length >= 2).slice(0, Number(data.params.examples ?? FEATURE_LIMITS.DEFAULT_ABLATION_EXAMPLES));
        if (examples.length === 0) throw new PermanentJobError(`feature ${f} of SAE ${sae.id} has no top examples to ablate on: run a discovery first`);
        const model = await cached(models, `${modelDir}:${sae.id}:${sae.path}`, () => loadModel(modelDir, { device, interventions: { [sae.hookPoint]: ablationIntervention(cfg, w) } }), (m) => m.close());
        const target = data.params.mode === 'clamp' ? Number(data.params.value) : 0;
        let sumBefore = 0;
        let sumAfter = 0;
        let n = 0;
        const deltaLoss: number[][] = [];
        let moved: { row: number; pos: number; token: number; before: number; after: number }[] = [];
        for (const [row, e] of examples.entries()) {
          ctx.signal.throwIfAborted();
          const T = e.tokens.length;
          const r = await ablate(model, f, BigInt64Array.from(e.tokens, BigInt), [1, T], { target, moved: MOVED });
          // the means are over T - 1 predicted tokens each: weigh them so
          sumBefore += r.lossBefore * (T - 1);
          sumAfter += r.lossAfter * (T - 1);
          n += T - 1;
          deltaLoss.push(Array.from(r.deltaLoss));
          moved.push(...r.moved.map((m) => ({ ...m, row })));
        }
        moved = moved.sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before)).slice(0, MOVED);
        const movedText = texts(tok, moved.map((m) => m.token));
        const lossBefore = sumBefore / n;
        const lossAfter = sumAfter / n;
        result = {
          lossBefore,
          lossAfter,
          perplexityBefore: Math.exp(lossBefore),
          perplexityAfter: Math.exp(lossAfter),
          deltaLoss,
          contexts: examples.map((e) => {
            const t = texts(tok, e.tokens);
            return { tokens: e.tokens.map((id, i) => ({ id, text: t[i]! })) };
          }),
          moved: moved.map((m, i) => ({ ...m, text: movedText[i]! })),
          // the model ran (a cached one too): where its latest session runs
          ...(model.placement ? { device: { model: model.placement } } : {}),
        };
      }
    }
    await putCachedAnalysis(db, { key: data.key, kind: data.kind, saeId: sae.id, featureIndex: f, result, ttlMs });
    return { key: data.key };
  },
};
