/**
 * `activations.extract`: an `extractions` row's model over its dataset →
 * the activation store `DATA_DIR/activations/<id>/` (shards per hook and a
 * manifest; models/activations/run.ts does the work). Progress goes to topic
 * `extraction/{id}` and the row a few times a second: tokens done, tokens/s,
 * ETA, rows, shards, phase, any out-of-memory fallback, and where the model
 * runs (`device.model`: provider, adapter, why not the GPU), which the row's
 * `device` keeps too.
 *
 * Endings: completed (the row gets per-hook statistics); failed (settings the
 * model or dataset cannot satisfy fail at once; other errors after pg-boss's
 * retries, and the folder is removed); cancelled by a user (the run stops
 * within a batch and the folder is removed); a worker shutdown keeps the
 * folder and the job is retried. A worker that dies (SIGKILL, OOM) runs no
 * code: its complete shards and manifest stay, and the retry — once the other
 * workers fail the job (workers/recovery.ts) — resumes after the last
 * complete shard and writes the same bytes an uninterrupted run would. An
 * attempt that finds its job taken over ({@link JobLostError}) touches
 * neither the folder nor the row.
 */
import fs from 'node:fs/promises';
import { resolveHooks, rowShape, statsSummary } from '../models/activations/plan.ts';
import { SettingsError } from '../models/settings-error.ts';
import { hookPoints } from '../models/architectures/decoder.ts';
import { checkFits, estimateExtractionMemory } from '../models/memory.ts';
import { checkedSpec } from '../models/model-check.ts';
import { hostMemoryBytes } from '../models/system/proc.ts';
import { activationsDir, runExtraction, type RunProgress } from '../models/activations/run.ts';
import type { Placement } from '../models/runtime.ts';
import { extractionJobDataSchema, type ExtractionJobData, type HookStatsSummary } from '../models/contracts/extractions.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import type { ExtractionProgress } from '../models/contracts/topics.ts';
import type { JobDevice } from '../models/contracts/device.ts';
import { DatasetError } from '../models/datasets/errors.ts';
import { getDataset } from '../db/queries/datasets.ts';
import { getExtraction, updateExtraction, type ExtractionRow, type ExtractionStatus, type ExtractionUpdate } from '../db/queries/extractions.ts';
import { getModel } from '../db/queries/models.ts';
import { createArtifactReporter, endJob } from './artifact-job.ts';
import { PermanentJobError, type JobContext, type JobKind, type JobLostError } from './job.ts';

/** OOM fallbacks kept in the progress, the latest last. */
const MAX_FALLBACKS = 10;

/** The error as this job reports it: ones no retry can fix wrapped in {@link PermanentJobError}. */
function classify(err: unknown): Error {
  if (err instanceof PermanentJobError) return err;
  if (err instanceof SettingsError) return new PermanentJobError(err.message, { cause: err });
  if (err instanceof DatasetError && err.code !== 'cancelled') return new PermanentJobError(err.message, { cause: err });
  // a store in the folder made with other settings (not this run's own: a retry has the same settings)
  if (err instanceof Error && /cannot resume/.test(err.message)) return new PermanentJobError(err.message, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** Progress of one run: throttled writes to the row and topic `extraction/{id}`. */
function createReporter(ctx: JobContext, row: ExtractionRow) {
  const { db } = ctx.database;
  let status: ExtractionStatus = 'running';
  let error: string | null = null;
  let run: Omit<RunProgress, 'phase'> & { phase: ExtractionProgress['phase'] } = { phase: 'loading', windowsDone: 0, windowsTotal: 0, tokensDone: 0, tokensTotal: 0, rows: 0, shards: 0, tokensPerSecond: 0, etaSeconds: null };
  const fallbacks: string[] = [...(row.progress?.fallbacks ?? [])];
  let device: JobDevice | undefined;

  const base = createArtifactReporter<ExtractionProgress, ExtractionStatus, ExtractionUpdate, true>({
    ctx,
    id: row.id,
    snapshot: () => ({ id: row.id, status, ...run, fallbacks: [...fallbacks], ...(device ? { device } : {}), error, ts: Date.now() }),
    jobProgress: (p) => ({ tokensDone: p.tokensDone, tokensTotal: p.tokensTotal, fraction: p.tokensTotal ? p.tokensDone / p.tokensTotal : 0, phase: p.phase }),
    update: async (p, set, onlyIf) => (await updateExtraction(db, row.id, { ...set, progress: p, ...(p.device ? { device: p.device } : {}) }, onlyIf)) || undefined,
    publish: (p) => ctx.events.publish(`extraction/${row.id}`, p),
    onFinish(next, set) {
      status = next;
      error = set.error ?? null;
      if (next !== 'completed') run = { ...run, phase: next === 'queued' ? 'queued' : run.phase, tokensPerSecond: 0, etaSeconds: null };
    },
  });

  return {
    abandon: base.abandon,
    finish: base.finish,
    update(p: RunProgress): void {
      run = p;
      base.tick();
    },
    fallback(message: string): void {
      fallbacks.push(message);
      if (fallbacks.length > MAX_FALLBACKS) fallbacks.splice(0, fallbacks.length - MAX_FALLBACKS);
      ctx.log.warn('out of memory: falling back', { id: row.id, message });
      base.tick();
    },
    placement(p: Placement): void {
      device = { model: p };
      base.tick();
    },
  };
}

export const activationsExtract: JobKind<ExtractionJobData> = {
  name: 'activations.extract',
  queue: JOB_QUEUES['activations.extract'],
  async handler(job, ctx) {
    const { extractionId } = extractionJobDataSchema.parse(job.data);
    const { db } = ctx.database;
    const row = await getExtraction(db, extractionId);
    if (!row) return { skipped: 'the extraction was deleted' };
    if (row.status === 'cancelled' || row.status === 'completed') return { skipped: `the extraction is ${row.status}` };
    const dest = activationsDir(ctx.config.dataDir, extractionId);
    const { signal } = ctx;

    // 'running' too: the attempt before this one may have died without a word (its shards stay for this one).
    if (!(await updateExtraction(db, extractionId, { status: 'running', error: null, path: dest }, ['queued', 'running']))) {
      return { skipped: 'the extraction changed status before it started' };
    }
    const report = createReporter(ctx, row);

    try {
      const model = await getModel(db, row.modelId);
      if (!model?.path || model.status !== 'completed') throw new PermanentJobError(`model ${row.modelId} is ${model ? model.status : 'gone'}`);
      const dataset = await getDataset(db, row.datasetId);
      if (!dataset?.path || dataset.status !== 'completed') throw new PermanentJobError(`dataset ${row.datasetId} is ${dataset ? dataset.status : 'gone'}`);
      if (job.retryCount > 0) ctx.log.info('resuming', { id: extractionId, attempt: job.retryCount + 1 });
      if (model.config) {
        // before anything is loaded: a config out of bounds or a run this host cannot hold fails at once, not on an allocation
        const spec = checkedSpec(model.config);
        const widths = resolveHooks(hookPoints(spec), row.hookPoints).map((h) => rowShape(h).reduce((a, b) => a * b, 1));
        checkFits(estimateExtractionMemory(spec, row.settings, widths), hostMemoryBytes(), 'This extraction', "this worker's host");
      }

      const result = await runExtraction({
        modelDir: model.path,
        datasetDir: dataset.path,
        outDir: dest,
        hookPoints: row.hookPoints,
        settings: row.settings,
        device: ctx.config.device,
        signal,
        onProgress: (p) => report.update(p),
        onFallback: (m) => report.fallback(m),
        onPlacement: (p) => report.placement(p),
      });
      signal.throwIfAborted();
      const stats: Record<string, HookStatsSummary> = Object.fromEntries(Object.entries(result.stats).map(([hook, s]) => [hook, statsSummary(s)]));
      report.update(result.progress);
      await report.finish('completed', { stats, error: null }, ['running']);
      const m = result.manifest;
      ctx.log.info('extraction done', { id: extractionId, windows: m.windowsDone, tokens: result.progress.tokensDone, rows: result.progress.rows, resumedAt: result.resumedAt });
      return { windows: m.windowsDone, tokens: result.progress.tokensDone, rows: result.progress.rows, shards: result.progress.shards, resumedAtWindow: result.resumedAt };
    } catch (raw) {
      throw await endJob(raw, job, ctx, report, {
        classify,
        // The shards stay: the retry resumes after the last complete one.
        shutdownNote: 'the worker stopped; the extraction resumes from its last shard on the next attempt',
        retrying: 'retrying from the last shard',
        // runExtraction has waited for its last write: nothing lands in the folder after this.
        discard: () => fs.rm(dest, { recursive: true, force: true }),
      });
    }
  },
};
