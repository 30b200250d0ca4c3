/**
 * `sae.train`: a `trainings` row → one SAE per hook point under
 * `DATA_DIR/saes/<id>/<hook>/` (SAELens layout, checkpoints/ inside), trained
 * in one pass over its extraction's activations (models/sae/train.ts does the
 * work). Metric points every `metricsEvery` steps and evaluations every
 * `evalEvery` (feature-density histogram, CE-loss recovered on a few windows
 * of the extraction's dataset) are stored in `training_metrics` before the
 * next checkpoint is written, and published on `training/{id}` in batches a
 * few times a second with the progress (step, tokens, tokens/s, ETA,
 * checkpoints, and where the steps and the CE-loss model run: `device`,
 * which the row keeps too).
 *
 * Endings: completed (the SAEs are recorded in `saes` with the status, in one
 * transaction); paused (a user's pause, read from the row between steps:
 * checkpoints written, the job ends); stopped (a user's stop: checkpoints,
 * and the SAEs saved from the current weights: completed with `stopped`);
 * cancelled (through the jobs API, or the training deleted: its folder goes
 * with the row); a worker shutdown writes checkpoints and leaves the job to
 * pg-boss's retry. A worker that dies runs no code: the retry (once the other
 * workers fail the job, workers/recovery.ts) resumes from the last
 * checkpoints and recomputes the metric points after them, which overwrite
 * the stored ones (the same values): the history has no gap and no duplicate.
 * Failures keep the checkpoints, so a retry — pg-boss's or a user's — resumes
 * from them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../models/config.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { trainingJobDataSchema, type EvalValues, type MetricPoint, type TrainingJobData, type TrainingProgress, type TrainingStatus } from '../models/contracts/trainings.ts';
import { readManifest } from '../models/activations/store.ts';
import { checkFits, estimateTrainingMemory } from '../models/memory.ts';
import { toTrainConfig } from '../models/sae/config.ts';
import { SettingsError } from '../models/settings-error.ts';
import type { Placement } from '../models/runtime.ts';
import { hostMemoryBytes } from '../models/system/proc.ts';
import { openCeEvaluator, type CeEvaluator } from '../models/sae/evaluate.ts';
import { trainingDir, trainingHookDir } from '../models/sae/files.ts';
import { trainSaes, totalStepsOf, type EvalPoint, type TrainMetrics, type TrainProgress, type StopRequest } from '../models/sae/train.ts';
import { getDataset } from '../db/queries/datasets.ts';
import { getExtraction } from '../db/queries/extractions.ts';
import { getModel } from '../db/queries/models.ts';
import { completeTraining, getTraining, getTrainingControl, updateTraining, upsertMetrics, type TrainedSae, type TrainingRow, type TrainingUpdate } from '../db/queries/trainings.ts';
import { retryWhileUnavailable } from '../db/outage.ts';
import { createArtifactReporter, endJob } from './artifact-job.ts';
import { PermanentJobError, WorkerShutdownError, type JobContext, type JobKind } from './job.ts';

/** How often a running training reads its row for a pause or stop, ms. */
const CONTROL_POLL_MS = 500;

/** The error as this job reports it: ones no retry can fix wrapped in {@link PermanentJobError}. */
function classify(err: unknown): Error {
  if (err instanceof PermanentJobError) return err;
  if (err instanceof SettingsError) return new PermanentJobError(err.message, { cause: err });
  // settings the activations cannot satisfy, or checkpoints of another config: the same on every attempt
  if (err instanceof Error && /cannot resume|no activation manifest|no activations for hook|fewer than one batch|no group of \d+ shards/.test(err.message)) {
    return new PermanentJobError(err.message, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

function metricValues(m: TrainMetrics): NonNullable<MetricPoint['train']> {
  const { hook: _h, step: _s, tokens: _t, ...values } = m;
  return values;
}

/** Progress of one run: throttled writes to the row, the topic and the job record; metric points batched for the topic. */
function createReporter(ctx: JobContext, row: TrainingRow) {
  const { db } = ctx.database;
  const totalSteps = totalStepsOf(row.config);
  const previous = row.progress;
  let progress: TrainingProgress = {
    id: row.id,
    status: 'running',
    phase: 'loading',
    step: previous?.step ?? 0,
    totalSteps,
    tokens: previous?.tokens ?? 0,
    totalTokens: totalSteps * row.config.batchSize,
    tokensPerSecond: 0,
    etaSeconds: null,
    resumedAt: previous?.step ?? 0,
    checkpoints: previous?.checkpoints ?? [],
    stopped: false,
    error: null,
    ts: Date.now(),
  };
  let points: MetricPoint[] = [];

  const publishPoints = async () => {
    if (points.length === 0) return;
    const batch = points;
    points = [];
    await ctx.events.publish(`training/${row.id}`, { type: 'metrics', id: row.id, points: batch });
  };

  const publishProgress = (p: TrainingProgress) => ctx.events.publish(`training/${row.id}`, { type: 'progress', ...p });
  /** Sets the final progress: nothing moves any more. */
  const end = (next: Partial<TrainingProgress>): TrainingProgress => {
    progress = { ...progress, ...next, tokensPerSecond: 0, etaSeconds: next.status === 'completed' ? 0 : null, ts: Date.now() };
    return progress;
  };

  const base = createArtifactReporter<TrainingProgress, TrainingStatus, TrainingUpdate, TrainingRow>({
    ctx,
    id: row.id,
    snapshot: () => ({ ...progress, ts: Date.now() }),
    jobProgress: (p) => ({ step: p.step, totalSteps, fraction: totalSteps ? p.step / totalSteps : 0, phase: p.phase }),
    update: (p, set, onlyIf) => updateTraining(db, row.id, { ...set, progress: p, ...(p.device ? { device: p.device } : {}) }, onlyIf),
    publish: (p) => publishProgress(p),
    sendBatched: publishPoints,
    onFinish(next, set) {
      end({ status: next, phase: next === 'queued' ? 'queued' : progress.phase, error: set.error ?? null });
    },
  });

  return {
    abandon: base.abandon,
    finish: base.finish,
    update(p: TrainProgress): void {
      progress = { ...progress, phase: 'training', ...p, resumedAt: progress.phase === 'loading' ? p.step : progress.resumedAt };
      base.tick();
    },
    points(p: MetricPoint[]): void {
      points.push(...p);
      base.tick();
    },
    /** Where a part runs (`sae`: the steppers; `model`: the CE-loss evaluator's model), from the moment it is known. */
    placement(part: 'sae' | 'model', p: Placement): void {
      progress = { ...progress, device: { ...progress.device, [part]: p } };
      base.tick();
    },
    checkpoint(hook: string, step: number): void {
      progress = { ...progress, checkpoints: [...progress.checkpoints.filter((c) => c.hook !== hook), { hook, step, at: Date.now() }] };
      base.tick();
    },
    /** Ends the throttled ticks (publishing the points still pending) and sets the final progress. */
    async settle(next: Partial<TrainingProgress>): Promise<TrainingProgress> {
      await base.settle();
      return end(next);
    },
    publishFinal: () => publishProgress(progress),
  };
}

/** Reads a training's pause or stop request every CONTROL_POLL_MS; `current()` is what the trainer polls each step. */
function watchControl(ctx: JobContext, id: string, initial: StopRequest | null) {
  let control = initial;
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    getTrainingControl(ctx.database.db, id)
      .then((c) => {
        if (c) control = c.control;
      })
      .catch((err) => ctx.log.warn('control not read', { id, error: String(err) }))
      .finally(() => (reading = false));
  }, CONTROL_POLL_MS);
  return {
    current(): StopRequest | null {
      // A shutting-down worker checkpoints as for a pause, and its job is retried.
      if (ctx.signal.aborted && ctx.signal.reason instanceof WorkerShutdownError) return 'pause';
      return control;
    },
    stop: () => clearInterval(timer),
  };
}

export const saeTrain: JobKind<TrainingJobData> = {
  name: 'sae.train',
  queue: JOB_QUEUES['sae.train'],
  /** SAE_TRAIN_CONCURRENCY: trainings one worker runs at once (the others wait in the queue) */
  get concurrency() {
    return loadConfig().saeTrainConcurrency;
  },
  async handler(job, ctx) {
    const { trainingId } = trainingJobDataSchema.parse(job.data);
    const { db } = ctx.database;
    const { signal } = ctx;
    const row = await getTraining(db, trainingId);
    if (!row) return { skipped: 'the training was deleted' };
    if (row.status !== 'queued' && row.status !== 'running') return { skipped: `the training is ${row.status}` };
    // 'running' too: the attempt before this one may have died without a word (its checkpoints stay for this one).
    const started = await updateTraining(db, trainingId, { status: 'running', error: null, ...(row.startedAt === null ? { startedAt: new Date() } : {}) }, ['queued', 'running']);
    if (!started) return { skipped: 'the training changed status before it started' };
    const report = createReporter(ctx, started);
    const control = watchControl(ctx, trainingId, started.control);
    let ce: Promise<CeEvaluator | null> | undefined;
    /** per hook, the latest evaluation of this attempt (for the SAE's record) */
    const evals = new Map<string, EvalValues>();

    try {
      const extraction = await getExtraction(db, row.extractionId);
      if (!extraction?.path || extraction.status !== 'completed') throw new PermanentJobError(`extraction ${row.extractionId} is ${extraction ? extraction.status : 'gone'}`);
      if (job.retryCount > 0) ctx.log.info('resuming', { id: trainingId, attempt: job.retryCount + 1 });
      // before anything is allocated: a run this host cannot hold fails at once, not on an allocation (and is not retried)
      const manifest = await readManifest(extraction.path);
      if (manifest) {
        const hooks = row.hookPoints.flatMap((h) => (manifest.hooks[h] ? [{ d: manifest.hooks[h].d, rows: manifest.hooks[h].rows, shards: manifest.hooks[h].shards.length }] : []));
        checkFits(estimateTrainingMemory(row.config, hooks), hostMemoryBytes(), 'This training', "this worker's host");
      }
      const model = await getModel(db, extraction.modelId);
      const dataset = await getDataset(db, extraction.datasetId);
      const config = row.config;
      /** The CE-loss evaluator, opened at the first evaluation; null when it cannot be (the density is still recorded). */
      const evaluator = (): Promise<CeEvaluator | null> => {
        if (config.evalWindows === 0 || !model?.path || !dataset?.path) return Promise.resolve(null);
        ce ??= openCeEvaluator({ modelDir: model.path, datasetDir: dataset.path, settings: extraction.settings, windows: config.evalWindows, device: ctx.config.device, onPlacement: (p) => report.placement('model', p) }).catch((err: unknown) => {
          ctx.log.warn('CE-loss evaluation unavailable', { id: trainingId, error: err instanceof Error ? err.message : String(err) });
          return null;
        });
        return ce;
      };

      const result = await trainSaes({
        activations: extraction.path,
        hooks: row.hookPoints.map((hook) => ({ hook, out: trainingHookDir(ctx.config.dataDir, trainingId, hook) })),
        config: toTrainConfig(config),
        // cfg.json's model_name: the hub repository when there is one (what SAELens loads), else the display name
        modelName: model ? (model.source.kind === 'hub' ? model.source.repo : model.name) : '',
        device: ctx.config.device,
        signal,
        shouldStop: () => control.current(),
        onProgress: (p) => report.update(p),
        onPlacement: (p) => report.placement('sae', p),
        // Stored before the trainer goes on (and so before the next checkpoint): a crash never leaves a gap behind a checkpoint.
        // While the database is away the trainer waits here, and the point is written once it is back (an upsert: never twice).
        onMetrics: async (m) => {
          await retryWhileUnavailable(() => upsertMetrics(db, trainingId, [{ hook: m.hook, step: m.step, tokens: m.tokens, train: metricValues(m) }]), { what: 'metric point', log: ctx.log, signal });
          report.points([{ hook: m.hook, step: m.step, tokens: m.tokens, ts: Date.now(), train: metricValues(m), eval: null }]);
        },
        evaluate: async (e: EvalPoint) => {
          let ceLoss = null;
          const ev = await evaluator();
          if (ev) {
            const { config: spec, weights } = await e.sae();
            ceLoss = await ev.evaluate(e.hook, spec, weights).catch((err: unknown) => {
              ctx.log.warn('CE-loss evaluation failed', { id: trainingId, hook: e.hook, error: err instanceof Error ? err.message : String(err) });
              return null;
            });
          }
          const values: EvalValues = {
            density: e.density,
            ceLossClean: ceLoss?.clean ?? null,
            ceLossSpliced: ceLoss?.spliced ?? null,
            ceLossZero: ceLoss?.zero ?? null,
            ceLossRecovered: ceLoss?.recovered ?? null,
          };
          evals.set(e.hook, values);
          await retryWhileUnavailable(() => upsertMetrics(db, trainingId, [{ hook: e.hook, step: e.step, tokens: e.tokens, eval: values }]), { what: 'evaluation', log: ctx.log, signal });
          report.points([{ hook: e.hook, step: e.step, tokens: e.tokens, ts: Date.now(), train: null, eval: values }]);
        },
        onCheckpoint: (step, hook) => report.checkpoint(hook, step),
      });

      if (result.outcome === 'paused') {
        if (signal.aborted && signal.reason instanceof WorkerShutdownError) throw signal.reason;
        await report.finish('paused', { control: null, error: null }, ['running']);
        ctx.log.info('training paused', { id: trainingId, step: result.steps });
        return { paused: true, step: result.steps, resumedAt: result.resumedAt };
      }
      signal.throwIfAborted();
      const stopped = result.outcome === 'stopped';
      const made: TrainedSae[] = [];
      for (const h of result.hooks) {
        const cfg = JSON.parse(await fs.readFile(path.join(h.out, 'cfg.json'), 'utf8')) as Record<string, unknown>;
        made.push({
          name: row.hookPoints.length > 1 ? `${row.name} · ${h.hook}` : row.name,
          modelId: extraction.modelId,
          hookPoint: h.hook,
          architecture: config.architecture,
          dIn: h.dIn,
          dSae: h.dSae,
          cfg,
          metrics: { train: h.metrics ? metricValues(h.metrics) : null, eval: evals.get(h.hook) ?? null, step: result.steps, stopped },
          path: h.out,
        });
      }
      const progress = await report.settle({ status: 'completed', phase: 'done', step: result.steps, tokens: result.steps * config.batchSize, stopped, error: null });
      // guarded by the status: a retry after a commit whose answer was lost changes nothing
      if (await retryWhileUnavailable(() => completeTraining(db, trainingId, { progress }, made), { what: 'the completed training', log: ctx.log, signal })) await report.publishFinal();
      ctx.log.info(stopped ? 'training stopped' : 'training done', { id: trainingId, steps: result.steps, resumedAt: result.resumedAt, saes: made.length });
      return { outcome: result.outcome, steps: result.steps, resumedAt: result.resumedAt, hooks: row.hookPoints };
    } catch (raw) {
      throw await endJob(raw, job, ctx, report, {
        classify,
        // The checkpoints stay, on every ending but a deletion: a retry (pg-boss's or a user's) resumes from them.
        shutdownNote: 'the worker stopped; the training resumes from its last checkpoint on the next attempt',
        retrying: 'retrying from the last checkpoint',
        cancelled: { set: { control: null, finishedAt: new Date() }, onlyIf: ['queued', 'running', 'cancelled'] },
        failed: { finishedAt: new Date() },
        async afterEnd(ending, changed) {
          // Deleted while it ran: the files go with the row (a running training has no SAE recorded yet).
          if (ending === 'cancelled' && !changed && !(await getTraining(db, trainingId))) await fs.rm(trainingDir(ctx.config.dataDir, trainingId), { recursive: true, force: true });
        },
      });
    } finally {
      control.stop();
      await (await ce?.catch(() => null))?.close();
    }
  },
};
