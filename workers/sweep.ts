/**
 * `sweep.run`: the coordinator of a hyperparameter sweep. Each trial is an
 * ordinary training (`sae.train`) of the sweep's hook point with the trial's
 * params over the sweep's base config; this job only decides and records.
 * Every POLICY.SWEEP_POLL_MS it makes one round:
 *
 * 1. reconcile: a running trial whose training completed is completed, its
 *    objective scored from the training's final metrics (the last metric
 *    point and evaluation; models/sweep/objective.ts scoreTrial); one whose
 *    training failed for good, was cancelled or deleted, or whose job ended
 *    without ending it, is failed or cancelled with the reason. A training
 *    that pg-boss retries (a failure, a dead worker) stays the trial's: the
 *    retry continues it from its checkpoints, and the trial waits;
 * 2. prune (when the spec's pruner is on): a running trial whose objective
 *    metric, past the warm-up, is worse than the median of the completed
 *    trials' at that step (models/sweep/prune.ts) is pruned and its training
 *    asked to stop (`control` 'stop': it saves its SAE at that step), both
 *    in one transaction;
 * 3. propose: while fewer than `parallelism` trials run and fewer than
 *    `budget` exist, the next number's params (models/sweep/propose.ts, from
 *    the finished trials' scores) and, in ONE transaction under a lock of the
 *    sweep's row, the trial row, its training row and the training's
 *    `sae.train` job (pg-boss's send on the transaction);
 * 4. report: `sweeps.progress`, topic `sweep/{id}` and the job's progress,
 *    when they changed.
 * It completes once `budget` trials exist and none runs.
 *
 * Crash safety: everything the coordinator knows is in PostgreSQL, so a
 * retry (the worker died: the recovery fails its job and pg-boss retries it;
 * an error; an expiry) goes on from the rows. A trial number is taken under
 * the row lock, only when it equals the trials made so far, and with its
 * training and job in the same transaction: never proposed twice, never two
 * trainings, never a training without its job. Trial updates are guarded on
 * the trial still running, so two attempts (one frozen, one taken over)
 * cannot undo each other.
 *
 * Cancelling (`POST /api/sweeps/{id}/cancel`, its DELETE, or the jobs API)
 * is the server's (server/artifacts/sweeps.ts): the sweep is marked
 * cancelled under the same lock, and the running trials' trainings are
 * cancelled through their jobs (they keep their checkpoints and can be
 * retried as any training); this job's signal then ends it. A user's pause
 * of a trial's training keeps the trial running until it is resumed or
 * stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { POLICY } from '../models/config.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { metricDef } from '../models/contracts/metrics.ts';
import { sweepJobDataSchema, type SweepJobData, type SweepProgress, type SweepStatus, type TrialStatus } from '../models/contracts/sweeps.ts';
import { readManifest } from '../models/activations/store.ts';
import { checkAgainstStore, resolveTrainConfig, type StoredHook } from '../models/sae/config.ts';
import { SettingsError } from '../models/settings-error.ts';
import { proposeTrial } from '../models/sweep/propose.ts';
import { scoreTrial } from '../models/sweep/objective.ts';
import { shouldPrune, type Curve } from '../models/sweep/prune.ts';
import { scoreTrials, sweepEvent, sweepProgress, trialConfig, trialHistory } from '../models/sweep/trials.ts';
import { getExtraction } from '../db/queries/extractions.ts';
import { finalMetrics, finishTrial, getSweep, insertTrial, listTrials, lockSweep, metricCurve, SWEEP_QUEUE, updateSweep, type MetricValues, type SweepRow, type SweepUpdate, type TrialRow } from '../db/queries/sweeps.ts';
import { inTransaction } from '../db/queries/transaction.ts';
import { insertTraining, setTrainingJob, TRAIN_QUEUE, updateTraining } from '../db/queries/trainings.ts';
import { createArtifactReporter, endJob } from './artifact-job.ts';
import { PermanentJobError, type JobContext, type JobKind } from './job.ts';

const TRAIN = TRAIN_QUEUE satisfies keyof typeof JOB_QUEUES;
const SWEEP = SWEEP_QUEUE satisfies keyof typeof JOB_QUEUES;

/** Training statuses after which its metrics no longer change. */
const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** Whether a trial's training has nothing left to do: ended, paused, deleted, or its job over. */
const trainingOver = (t: TrialRow) => !t.training || ENDED.has(t.training.status) || t.training.status === 'paused' || ENDED.has(t.training.jobState ?? '');

/** How a running trial ends, from its training; null while it goes on. */
export function trialEnd(t: TrialRow): { status: Exclude<TrialStatus, 'running' | 'pruned'>; reason: string | null } | null {
  const tr = t.training;
  if (!tr) return { status: 'cancelled', reason: 'its training was deleted' };
  if (tr.status === 'completed') return { status: 'completed', reason: null };
  if (tr.status === 'failed') return { status: 'failed', reason: tr.error ?? 'its training failed' };
  if (tr.status === 'cancelled') return { status: 'cancelled', reason: 'its training was cancelled' };
  // queued or running, and its job over without a word (retries used up after dead workers): nothing will end it
  if (tr.status !== 'paused' && ENDED.has(tr.jobState ?? '')) {
    return { status: tr.jobState === 'cancelled' ? 'cancelled' : 'failed', reason: `its ${TRAIN} job ${tr.jobState === 'completed' ? 'ended' : tr.jobState} without finishing it` };
  }
  return null;
}

/** Progress writes of one attempt: the row, topic `sweep/{id}` and the job's record, throttled, and only when the progress changed. */
function createReporter(ctx: JobContext, row: SweepRow) {
  let progress: SweepProgress = row.progress ?? sweepProgress([]);
  const base = createArtifactReporter<SweepProgress, SweepStatus, SweepUpdate, SweepRow>({
    ctx,
    id: row.id,
    snapshot: () => progress,
    jobProgress: (p) => ({ ...p, budget: row.spec.budget, fraction: (p.trials - p.running) / row.spec.budget }),
    update: (p, set, onlyIf) => updateSweep(ctx.database.db, row.id, { ...set, progress: p }, onlyIf),
    publish: (p, r) => ctx.events.publish(`sweep/${row.id}`, sweepEvent(r ?? row, p)),
  });
  return {
    ...base,
    set(next: SweepProgress): void {
      if (JSON.stringify(next) === JSON.stringify(progress)) return;
      progress = next;
      base.tick();
    },
  };
}

/** The stored activations of the sweep's hook point, as POST /api/sweeps checked them. */
async function storedHook(ctx: JobContext, sweep: SweepRow): Promise<StoredHook> {
  const extraction = await getExtraction(ctx.database.db, sweep.extractionId);
  if (!extraction?.path || extraction.status !== 'completed') throw new PermanentJobError(`extraction ${sweep.extractionId} is ${extraction ? extraction.status : 'gone'}`);
  const h = (await readManifest(extraction.path))?.hooks[sweep.spec.hookPoint];
  if (!h) throw new PermanentJobError(`the activations of extraction ${sweep.extractionId} at ${sweep.spec.hookPoint} are gone`);
  return { hook: sweep.spec.hookPoint, d: h.d, rows: h.rows, shards: h.shards.length };
}

/** One sweep's rounds (see the file's comment); state kept between rounds is only a cache of rows that no longer change. */
function createCoordinator(ctx: JobContext, sweep: SweepRow, hook: StoredHook) {
  const { database } = ctx;
  const { db } = database;
  const { spec } = sweep;
  /** final metrics of trainings that ended */
  const settled = new Map<string, MetricValues>();
  /** the objective metric's curve of each training seen running or completed; `done` once its training ended */
  const curves = new Map<string, Curve & { done: boolean }>();

  /** Trials scored from their trainings' final metrics; only finished trials are scored (the running ones need none). */
  const score = async (trials: TrialRow[]) => {
    const ask = trials.filter((t) => t.status !== 'running' && t.trainingId && !settled.has(t.trainingId)).map((t) => t.trainingId!);
    const fresh = await finalMetrics(db, ask);
    for (const t of trials) if (t.trainingId && fresh.has(t.trainingId) && t.training && ENDED.has(t.training.status)) settled.set(t.trainingId, fresh.get(t.trainingId)!);
    return scoreTrials(spec.objective, trials, new Map([...settled, ...fresh]));
  };

  /** The objective metric's curve of a training, read on from the last step known. */
  const curveOf = async (t: TrialRow): Promise<Curve> => {
    const id = t.trainingId!;
    const known = curves.get(id) ?? { steps: [], values: [], done: false };
    if (!known.done) {
      const more = await metricCurve(db, id, spec.objective.metric, known.steps.at(-1) ?? -1);
      known.steps.push(...more.steps);
      known.values.push(...more.values);
      known.done = ENDED.has(t.training?.status ?? '');
      curves.set(id, known);
    }
    return known;
  };

  /** Ends the running trials whose trainings ended; true when one changed. */
  const reconcile = async (trials: TrialRow[]): Promise<boolean> => {
    let changed = false;
    for (const t of trials) {
      if (t.status !== 'running') continue;
      const end = trialEnd(t);
      if (!end) continue;
      const metrics = end.status === 'completed' ? (await finalMetrics(db, [t.trainingId!])).get(t.trainingId!) : undefined;
      if (!(await finishTrial(db, sweep.id, t.number, { ...end, objective: metrics ? scoreTrial(spec.objective, metrics).value : null }))) continue;
      ctx.log.info(`trial ${end.status}`, { sweep: sweep.id, trial: t.number, reason: end.reason ?? undefined });
      changed = true;
    }
    return changed;
  };

  /** Prunes the running trials the median rule stops; true when one was. */
  const prune = async (trials: TrialRow[]): Promise<boolean> => {
    let changed = false;
    const earlier: Curve[] = [];
    for (const t of trials) if (t.status === 'completed' && t.trainingId) earlier.push(await curveOf(t));
    const name = metricDef(spec.objective.metric).name;
    for (const t of trials) {
      if (t.status !== 'running' || t.training?.status !== 'running' || t.training.control) continue;
      const { prune: yes, reason } = shouldPrune(await curveOf(t), earlier, spec.objective.direction, spec.pruner, name);
      if (!yes) continue;
      // both or neither: a stopped training whose trial still ran would be taken for completed
      const pruned = await inTransaction(database, async ({ db: tx }) => (await updateTraining(tx, t.trainingId!, { control: 'stop' }, ['running'])) !== undefined && (await finishTrial(tx, sweep.id, t.number, { status: 'pruned', reason })));
      if (!pruned) continue;
      ctx.log.info('trial pruned', { sweep: sweep.id, trial: t.number, reason: reason ?? undefined });
      changed = true;
    }
    return changed;
  };

  /**
   * Makes trial `number` with `params`, unless the sweep is no longer running
   * or the number is taken, parallelism reached or budget spent (read under
   * the lock). A config the stored activations cannot satisfy (the space's
   * corners were checked, so only when they changed) is a failed trial
   * without a training. Returns the new trial's status, or null when none was made.
   */
  const make = (number: number, params: TrialRow['params']): Promise<'running' | 'failed' | null> => {
    const config = resolveTrainConfig([trialConfig(spec.base, params)], hook.rows);
    let problem: string | null = null;
    try {
      checkAgainstStore(config, [hook]);
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      problem = err.message;
    }
    return inTransaction(database, async ({ db: tx, executor }) => {
      const now = await lockSweep(tx, sweep.id);
      if (now?.status !== 'running' || now.trials !== number || now.trials >= spec.budget || now.running >= spec.parallelism) return null;
      if (problem) {
        await insertTrial(tx, { sweepId: sweep.id, number, params, trainingId: null, status: 'failed', reason: problem });
        return 'failed';
      }
      const training = await insertTraining(tx, { name: `${sweep.name} #${number}`, extractionId: sweep.extractionId, hookPoints: [spec.hookPoint], config, purpose: spec.purpose });
      const jobId = await ctx.boss.send(TRAIN, { trainingId: training.id }, { ...JOB_QUEUES[TRAIN], db: executor });
      if (!jobId) throw new Error(`pg-boss did not create the ${TRAIN} job`);
      await setTrainingJob(tx, training.id, jobId);
      await insertTrial(tx, { sweepId: sweep.id, number, params, trainingId: training.id });
      return 'running';
    });
  };

  /** Makes trials while parallelism and budget allow; true when one was made. */
  const propose = async (trials: TrialRow[]): Promise<boolean> => {
    const before = trials.length;
    let made = trials.length;
    let running = trials.filter((t) => t.status === 'running').length;
    const history = trialHistory(await score(trials));
    while (made < spec.budget && running < spec.parallelism) {
      const params = proposeTrial(spec.method, spec.space, spec.seed, made, history);
      const state = await make(made, params);
      if (!state) break;
      ctx.log.info(state === 'running' ? 'trial started' : 'trial failed', { sweep: sweep.id, trial: made, params });
      history.push({ number: made, params, state, score: null });
      made++;
      if (state === 'running') running++;
    }
    return made > before;
  };

  return {
    /** One round; resolves to the progress after it, and whether the sweep is done. */
    async round(): Promise<{ progress: SweepProgress; done: boolean }> {
      const list = () => listTrials(db, sweep.id);
      let trials = await list();
      if (await reconcile(trials)) trials = await list();
      if (spec.pruner.enabled && (await prune(trials))) trials = await list();
      if (await propose(trials)) trials = await list();
      const progress = sweepProgress(await score(trials));
      // done once no trial runs and the pruned ones' trainings have stopped
      return { progress, done: progress.trials >= spec.budget && progress.running === 0 && trials.every(trainingOver) };
    },
  };
}

export const sweepRun: JobKind<SweepJobData> = {
  name: SWEEP,
  queue: JOB_QUEUES[SWEEP],
  concurrency: POLICY.SWEEP_CONCURRENCY,
  async handler(job, ctx) {
    const { sweepId } = sweepJobDataSchema.parse(job.data);
    const { db } = ctx.database;
    const row = await getSweep(db, sweepId);
    if (!row) return { skipped: 'the sweep was deleted' };
    if (row.status !== 'queued' && row.status !== 'running') return { skipped: `the sweep is ${row.status}` };
    const started = await updateSweep(db, sweepId, { status: 'running', error: null, ...(row.startedAt === null ? { startedAt: new Date() } : {}) }, ['queued', 'running']);
    if (!started) return { skipped: 'the sweep changed status before it started' };
    if (job.retryCount > 0) ctx.log.info('going on from its trials', { id: sweepId, attempt: job.retryCount + 1 });
    const report = createReporter(ctx, started);
    try {
      const coordinator = createCoordinator(ctx, started, await storedHook(ctx, started));
      for (;;) {
        ctx.signal.throwIfAborted();
        const { progress, done } = await coordinator.round();
        report.set(progress);
        if (done) {
          await report.finish('completed', { error: null, finishedAt: new Date() }, ['running']);
          ctx.log.info('sweep done', { id: sweepId, ...progress, best: progress.best?.number });
          return progress;
        }
        await sleep(POLICY.SWEEP_POLL_MS, undefined, { signal: ctx.signal });
      }
    } catch (raw) {
      throw await endJob(raw, job, ctx, report, {
        classify: (err) => (err instanceof Error ? err : new Error(String(err))),
        shutdownNote: 'the worker stopped; the sweep goes on from its trials on the next attempt',
        retrying: 'going on from its trials',
        // the server marked it cancelled already (server/artifacts/sweeps.ts), with its trials
        cancelled: { set: { finishedAt: new Date() }, onlyIf: ['queued', 'running'] },
        failed: { finishedAt: new Date() },
      });
    }
  },
};
