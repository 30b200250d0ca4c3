/**
 * `features.discover`: a `discoveries` row → the features of its SAE over its
 * extraction's stored activations, or over a dataset's text run through the
 * SAE's model up to its hook with no activation store written
 * (models/features/discover.ts does the work, models/features/sources.ts
 * reads the rows), in phases reported on `discovery/{id}` (throttled, with an
 * ETA) and kept in the row, with where the SAE's encoder (and, over text, the
 * model) runs in its `device`:
 *
 * 1. scan and examples: one pass over the activations for the statistics
 *    and top positions, one over the examples' windows (over text: the
 *    batches of windows that hold them, through the model again),
 *    checkpointed as they go; then heuristic labels and peak tokens through
 *    the model's tokenizer. The result is staged in
 *    `DATA_DIR/discoveries/<id>/features.json` (models/features/staging.ts).
 * 2. labels, when settings name an LLM endpoint: a label per feature that
 *    ever fires, with bounded concurrency, each staged as it arrives. An
 *    endpoint that keeps failing ends the phase: the remaining features keep
 *    their heuristic label and the discovery completes with a warning.
 * 3. saving: the SAE's features and examples replaced in one transaction
 *    (db/queries/features.ts replaceFeatures), which also marks the discovery
 *    completed — or writes nothing if it was cancelled meanwhile.
 *
 * Retries (a failure, a worker that died, a shutdown): a crash during the
 * scan or the examples pass resumes from the pass's last checkpoint,
 * `scan.ckpt` in the staging folder: every accumulator (counts, sums, maxima,
 * histograms, top values and positions, rows done, the next shard) and, in
 * the examples pass, the example values gathered so far, staged after a
 * shard once {@link CHECKPOINT_DEFAULTS} (1 shard and 30 s) have passed since
 * the last one (written to a temporary file, fsynced and renamed; over
 * text, a unit is a batch of windows rather than a shard). The resumed run
 * reads the shards after it and gives exactly the features an uninterrupted
 * run gives. A crash in the labels or saving phase resumes from
 * the staged scan, with the labels already staged (only the requests in
 * flight at the crash are asked again). The features are never half
 * replaced: the transaction is all or nothing.
 *
 * Cancellation (the jobs API, or `DELETE /api/discoveries/{id}`) aborts the
 * job within a chunk of rows or one LLM request; it writes no feature, and
 * its staging folder is removed.
 */
import { discoverJobDataSchema, type DiscoverJobData, type DiscoveryPhase, type DiscoveryProgress, type DiscoveryStatus, type DiscoveryText } from '../models/contracts/features.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { SettingsError } from '../models/settings-error.ts';
import { openTokenStore, readDocOffsets } from '../models/datasets/format.ts';
import { CHECKPOINT_DEFAULTS, discoverFeatures } from '../models/features/discover.ts';
import { createLlmClient, labelFeatures } from '../models/features/llm.ts';
import { toFeatureRecord, type FeatureRecord } from '../models/features/records.ts';
import { openStoredSource, openTextSource, type ActivationSource } from '../models/features/sources.ts';
import { appendStagedLabels, clearStagedLabels, discoveryDir, readCheckpoint, readStagedLabels, readStagedScan, removeCheckpoint, removeStaging, writeCheckpoint, writeStagedScan, type StagedKey, type StagedScan } from '../models/features/staging.ts';
import { loadSae, SaeFormatError } from '../models/sae/saelens.ts';
import { loadModel, type LoadedModel } from '../models/model.ts';
import type { Placement } from '../models/runtime.ts';
import type { JobDevice } from '../models/contracts/device.ts';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.ts';
import { getDataset } from '../db/queries/datasets.ts';
import { getDiscovery, updateDiscovery, type DiscoveryRow, type DiscoveryUpdate } from '../db/queries/discoveries.ts';
import { getExtraction } from '../db/queries/extractions.ts';
import { replaceFeatures } from '../db/queries/features.ts';
import { getModel } from '../db/queries/models.ts';
import { getSae } from '../db/queries/saes.ts';
import { getLlmSettings } from '../db/queries/settings.ts';
import { createArtifactReporter, endJob } from './artifact-job.ts';
import { PermanentJobError, type JobContext, type JobKind } from './job.ts';

/** The error as this job reports it: ones no retry can fix wrapped in {@link PermanentJobError}. */
function classify(err: unknown): Error {
  if (err instanceof PermanentJobError) return err;
  if (err instanceof SaeFormatError) return new PermanentJobError(err.message, { cause: err });
  if (err instanceof Error && /no activations for hook|stored rows have \d+ values|no activation manifest|ENOENT/.test(err.message)) return new PermanentJobError(err.message, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Ms between scan checkpoints. `LOUPE_TEST_DISCOVERY_CHECKPOINT_MS` is a hook
 * for end-to-end tests (a checkpoint after every shard at 0) to see a crash
 * mid-scan resumed on a small extraction. Unset: {@link CHECKPOINT_DEFAULTS}.
 */
function checkpointEveryMs(): number {
  const raw = process.env.LOUPE_TEST_DISCOVERY_CHECKPOINT_MS;
  const ms = raw ? Number(raw) : NaN;
  return Number.isInteger(ms) && ms >= 0 ? ms : CHECKPOINT_DEFAULTS.everyMs;
}

/** A token's display string, memoised (features share most of their tokens). */
function displayer(tokenizer: Tokenizer): (id: number) => string {
  const memo = new Map<number, string>();
  return (id) => {
    let s = memo.get(id);
    if (s === undefined) memo.set(id, (s = tokenizer.tokenStrings([id])[0] ?? '\uFFFD'));
    return s;
  };
}

/** Progress of one attempt: throttled writes of the row, published on `discovery/{id}` with the job's own record. */
function createReporter(ctx: JobContext, id: string) {
  const { db } = ctx.database;
  let progress: DiscoveryProgress = { phase: 'scan', rowsDone: 0, rowsTotal: 0, featuresLabelled: 0, etaSeconds: null };
  /** where the current phase's rate is measured from */
  let since = { at: Date.now(), done: 0 };
  /** while saving the row is locked by the transaction: progress is published, not written */
  let publishOnly = false;
  let last: DiscoveryRow | undefined;
  /** where this attempt's parts run, once known (an attempt that resumes from the staged scan runs neither) */
  let device: JobDevice | undefined;

  const base = createArtifactReporter<DiscoveryProgress, DiscoveryStatus, DiscoveryUpdate, DiscoveryRow>({
    ctx,
    id,
    snapshot: () => progress,
    jobProgress: (p) => ({ ...p, fraction: p.rowsTotal ? p.rowsDone / p.rowsTotal : 0 }),
    async update(p, set, onlyIf) {
      const changed = await updateDiscovery(db, id, { ...set, progress: p, ...(device ? { device } : {}) }, onlyIf);
      if (changed) last = changed;
      return changed;
    },
    // the event is the row: after a write the row itself, while the row is locked the last one with the progress now
    publish: async (p, row) => {
      if (row) await ctx.events.publish(`discovery/${id}`, row);
      else if (last) await ctx.events.publish(`discovery/${id}`, { ...last, progress: p, updatedAt: Date.now() });
    },
    publishOnly: () => publishOnly,
    onFinish() {
      progress = { ...progress, etaSeconds: null };
    },
  });

  return {
    abandon: base.abandon,
    finish: base.finish,
    /** Starts a phase: its rate and ETA are measured from here; published at once (a short phase would otherwise fall between two ticks). */
    phase(phase: DiscoveryPhase, rowsTotal: number, rowsDone = 0): void {
      since = { at: Date.now(), done: rowsDone };
      progress = { ...progress, phase, rowsDone, rowsTotal, etaSeconds: null };
      base.tick();
      void base.flush().catch(() => undefined);
    },
    update(rowsDone: number, rowsTotal = progress.rowsTotal, extra: Partial<DiscoveryProgress> = {}): void {
      const s = (Date.now() - since.at) / 1000;
      const rate = (rowsDone - since.done) / s;
      const eta = s >= 0.5 && rate > 0 ? Math.max(0, Math.round((rowsTotal - rowsDone) / rate)) : null;
      progress = { ...progress, rowsDone, rowsTotal, etaSeconds: eta, ...extra };
      base.tick();
    },
    /** Where a part runs (`sae`: the encoder and scan; `model`: the forward over text), from the moment it is known. */
    placement(part: 'sae' | 'model', p: Placement): void {
      device = { ...device, [part]: p };
      base.tick();
    },
    started(row: DiscoveryRow): void {
      last = row;
    },
    set publishOnly(v: boolean) {
      publishOnly = v;
    },
    /** Ends the ticks before the final transaction; `final` is the progress it stores. */
    async settle(final: Partial<DiscoveryProgress>): Promise<DiscoveryProgress> {
      await base.settle();
      progress = { ...progress, ...final, etaSeconds: 0 };
      return progress;
    },
  };
}

export const featuresDiscover: JobKind<DiscoverJobData> = {
  name: 'features.discover',
  queue: JOB_QUEUES['features.discover'],
  async handler(job, ctx) {
    const { discoveryId: id } = discoverJobDataSchema.parse(job.data);
    const { db } = ctx.database;
    const { signal } = ctx;
    const row = await getDiscovery(db, id);
    if (!row) return { skipped: 'the discovery was deleted' };
    if (row.status !== 'queued' && row.status !== 'running') return { skipped: `the discovery is ${row.status}` };
    // 'running' too: the attempt before this one may have died without a word (its staged files stay for this one).
    const started = await updateDiscovery(db, id, { status: 'running', error: null }, ['queued', 'running']);
    if (!started) return { skipped: 'the discovery changed status before it started' };
    await ctx.events.publish(`discovery/${id}`, started);
    const report = createReporter(ctx, id);
    report.started(started);
    const staging = discoveryDir(ctx.config.dataDir, id);
    let tokens: Awaited<ReturnType<typeof openTokenStore>> | undefined;
    let lm: LoadedModel | undefined;

    try {
      const sae = await getSae(db, row.saeId);
      if (!sae) throw new PermanentJobError(`SAE ${row.saeId} is gone`);
      // what the activations come from, the dataset whose tokens make the examples, the model whose tokenizer shows them
      let from: { kind: 'extraction'; path: string } | { kind: 'text'; text: DiscoveryText };
      let datasetId: string;
      let model: Awaited<ReturnType<typeof getModel>>;
      let want: StagedKey;
      if (row.text) {
        if (!row.datasetId) throw new PermanentJobError('the dataset of this discovery was deleted');
        model = sae.modelId ? await getModel(db, sae.modelId) : undefined;
        if (!model?.path || model.status !== 'completed') throw new PermanentJobError(`the model of SAE ${sae.id} is gone: it runs the text`);
        from = { kind: 'text', text: row.text };
        datasetId = row.datasetId;
        want = { saeId: sae.id, source: { datasetId: row.datasetId, ...row.text }, settings: row.settings };
      } else {
        if (!row.extractionId) throw new PermanentJobError('the extraction of this discovery was deleted');
        const extraction = await getExtraction(db, row.extractionId);
        if (!extraction?.path || extraction.status !== 'completed') throw new PermanentJobError(`extraction ${row.extractionId} is ${extraction ? extraction.status : 'gone'}`);
        model = await getModel(db, extraction.modelId);
        if (!model?.path) throw new PermanentJobError(`the model of extraction ${extraction.id} is gone: its tokenizer shows the examples`);
        from = { kind: 'extraction', path: extraction.path };
        datasetId = extraction.datasetId;
        want = { saeId: sae.id, source: { extractionId: extraction.id }, settings: row.settings };
      }
      const modelDir = model.path;
      const tokenizer = await loadTokenizer(modelDir);
      const show = displayer(tokenizer);

      // 1. scan and examples, unless a previous attempt staged them; from the last checkpoint when it left one
      let scan: StagedScan | null = await readStagedScan(staging, want);
      let resumed: 'labels' | 'scan' | 'examples' | null = scan ? 'labels' : null;
      let resumedAt: { unit: number; units: number; done: number } | null = null;
      if (scan) ctx.log.info('resuming from the staged scan', { id, attempt: job.retryCount + 1, features: scan.features.length });
      else {
        const dataset = await getDataset(db, datasetId);
        if (!dataset?.path) throw new PermanentJobError(`dataset ${datasetId} is gone: its tokens make the examples`);
        await clearStagedLabels(staging);
        const checkpoint = await readCheckpoint(staging, want);
        if (checkpoint) {
          resumed = checkpoint.phase;
          resumedAt = { unit: checkpoint.unit, units: checkpoint.units, done: checkpoint.done };
          ctx.log.info('resuming the scan from its checkpoint', { id, attempt: job.retryCount + 1, phase: checkpoint.phase, unit: checkpoint.unit, units: checkpoint.units, rowsDone: checkpoint.done });
        }
        const { cfg, weights } = await loadSae(sae.path);
        tokens = await openTokenStore(dataset.path);
        const docOffsets = await readDocOffsets(dataset.path);
        let source: ActivationSource;
        if (from.kind === 'text') {
          lm = await loadModel(modelDir, { dtype: model.dtype, device: ctx.config.device, onPlacement: (p) => report.placement('model', p) });
          try {
            source = openTextSource({ model: lm, store: tokens, hook: sae.hookPoint, dIn: cfg.dIn, text: from.text, onFallback: (message) => ctx.log.warn('out of memory', { id, message }) });
          } catch (err) {
            throw err instanceof SettingsError ? new PermanentJobError(err.message, { cause: err }) : err;
          }
        } else source = await openStoredSource(from.path, sae.hookPoint);
        let phase: DiscoveryPhase = checkpoint?.phase ?? 'scan';
        report.phase(phase, source.total, checkpoint?.done ?? 0);
        const found = await discoverFeatures({
          source,
          cfg,
          weights,
          tokens,
          docOffsets,
          topK: row.settings.topK,
          left: row.settings.left,
          right: row.settings.right,
          device: ctx.config.device,
          onPlacement: (p) => report.placement('sae', p),
          signal,
          resume: checkpoint,
          checkpoint: { everyMs: checkpointEveryMs(), save: (state) => writeCheckpoint(staging, want, state) },
          onProgress: (done, total, p) => {
            if (p !== phase) {
              phase = p;
              report.phase(p, total);
            }
            report.update(done, total);
          },
        });
        await lm?.close();
        lm = undefined;
        await tokens.close();
        tokens = undefined;
        scan = { ...want, rows: found.rows, features: found.features.map((f) => toFeatureRecord(f, show)) };
        await writeStagedScan(staging, scan);
        await removeCheckpoint(staging);
      }
      signal.throwIfAborted();

      // 2. LLM labels
      let warning: string | null = null;
      const labels = await readStagedLabels(staging);
      const llm = await getLlmSettings(db);
      if (llm) {
        const wanted = scan.features.filter((f) => f.frequency > 0 && f.examples.length > 0);
        const todo = wanted.filter((f) => !labels.has(f.index));
        let done = wanted.length - todo.length;
        report.phase('labels', wanted.length, done);
        report.update(done, wanted.length, { featuresLabelled: done });
        const client = createLlmClient(llm);
        const r = await labelFeatures(client, todo, show, {
          signal,
          onLabel: async (f, label) => {
            labels.set(f.index, label);
            await appendStagedLabels(staging, [{ index: f.index, label }]);
            done++;
            report.update(done, wanted.length, { featuresLabelled: done });
          },
        });
        if (r.error) {
          warning = `LLM labels stopped after ${done} of ${wanted.length} features (${r.error.message}); the others keep their heuristic label`;
          // the warning is shown to users: the error's message, never the endpoint's answer (that goes to the log only)
          ctx.log.warn('LLM labels failed', { id, error: r.error.message, status: r.error.status, code: r.error.code, answer: r.error.detail });
        }
      }
      signal.throwIfAborted();

      // 3. saving, in one transaction with the completion
      const records: FeatureRecord[] = scan.features.map((f) => ({ ...f, llmLabel: labels.get(f.index) ?? null }));
      report.phase('saving', records.length);
      const done = await report.settle({ phase: 'saving', rowsDone: records.length, rowsTotal: records.length });
      report.publishOnly = true;
      const written = await replaceFeatures(db, id, sae.id, records, { progress: done, rows: scan.rows, warning }, (n) => report.update(n, records.length));
      report.abandon();
      if (!written) {
        // cancelled or deleted between the last check and the transaction: nothing was written
        await removeStaging(staging);
        return { skipped: 'the discovery was cancelled before its features were saved' };
      }
      const final = await getDiscovery(db, id);
      if (final) await ctx.events.publish(`discovery/${id}`, final);
      await removeStaging(staging);
      ctx.log.info('discovery done', { id, sae: sae.id, features: records.length, rows: scan.rows, llmLabels: labels.size, resumed });
      return { features: records.length, rows: scan.rows, llmLabels: labels.size, resumed, resumedAt, warning };
    } catch (raw) {
      await tokens?.close().catch(() => undefined);
      await lm?.close().catch(() => undefined);
      throw await endJob(raw, job, ctx, report, {
        classify,
        // The staged scan, checkpoint and labels stay: the retry resumes from them.
        shutdownNote: 'the worker stopped; the discovery resumes on the next attempt',
        cancelled: { set: {}, onlyIf: ['queued', 'running'] },
        afterEnd: () => removeStaging(staging),
      });
    }
  },
};
