/**
 * Runs job kinds on pg-boss and gives each running job an AbortSignal, which
 * pg-boss 10 does not: a job is aborted when the server announces its
 * cancellation (NOTIFY on `loupe_job_cancel`, heard within milliseconds), when
 * a periodic check finds it no longer active in this attempt (the fallback for
 * a missed notification, a job expired by pg-boss, failed by the recovery of a
 * worker taken for dead, or deleted), and when the worker shuts down.
 *
 * Before a job's handler runs, the runner records which worker runs which
 * attempt ({@link claimJob}), so that the other workers can fail the jobs of
 * a worker that died (workers/recovery.ts). Used by the worker entry and by
 * in-process tests.
 */
import type PgBoss from 'pg-boss';
import { POLICY, type Config } from '../models/config.ts';
import { errorForLog, logger, type Logger } from '../models/log.ts';
import type { Database } from '../db/client.ts';
import { recordableError } from '../db/errors.ts';
import { createQueues } from '../db/queues.ts';
import { listenChannel, type EventListener, type Events } from '../db/events.ts';
import { untilReachable } from '../db/outage.ts';
import { claimJob, disableRetries, JOB_CANCEL_CHANNEL, jobStates, setJobProgress } from '../db/queries/jobs.ts';
import type { JobState } from '../models/contracts/jobs.ts';
import { throttle } from '../models/transfer.ts';
import { isPermanentFailure, JobCancelledError, JobLostError, WorkerShutdownError, type JobContext, type JobKind } from './job.ts';

export interface RunnerOptions {
  boss: PgBoss;
  database: Database;
  events: Events;
  config: Config;
  kinds: readonly JobKind<any>[];
  log: Logger;
  /** id of this worker, as its heartbeat writes it to table `workers`; recorded as the owner of each job it starts */
  workerId: string;
  /** s between polls of each queue (pg-boss allows 0.5 and more) */
  pollingIntervalSeconds?: number;
  /** ms between checks that running jobs are still active */
  stateCheckMs?: number;
}

/** A started runner. */
export interface JobRunner {
  /** ids of the jobs running now */
  running(): string[];
  /**
   * Aborts every running job with {@link WorkerShutdownError} (they fail and
   * pg-boss retries them) and stops listening; jobs fetched afterwards start
   * aborted. Call before `boss.stop()`.
   */
  stop(): Promise<void>;
}

function errorText(err: unknown): string {
  // a failed query's parameters stay out of the log
  return errorForLog(err, { stack: true });
}

/**
 * Why attempt `attempt` of job `id` must stop, given the job's current state
 * in pg-boss (undefined: gone); undefined while the attempt is still the
 * job's active one.
 */
export function lostReason(id: string, attempt: number, now: { state: JobState; retryCount: number } | undefined): Error | undefined {
  if (!now) return new JobCancelledError(id, 'the job is gone from the queue');
  if (now.state === 'active') return now.retryCount === attempt ? undefined : new JobLostError(id, `attempt ${now.retryCount + 1} of the job runs elsewhere`);
  // Failed or expired with retries left: pg-boss runs it again, so it is not a cancel.
  if (now.state === 'retry' || now.state === 'created') return new JobLostError(id, `the job was failed behind this attempt (it is ${now.state}); pg-boss runs it again`);
  return new JobCancelledError(id, `the job is ${now.state}`);
}

/** Creates the queues of `kinds`, registers their handlers and schedules, and starts the cancellation watch. */
export async function startJobRunner(opts: RunnerOptions): Promise<JobRunner> {
  const { boss, database, events, config, log } = opts;
  const stateCheckMs = opts.stateCheckMs ?? POLICY.JOB_STATE_CHECK_MS;
  /** job id → the abort controller and pg-boss retry_count of the attempt running here */
  const running = new Map<string, { ac: AbortController; attempt: number }>();
  let stopping = false;
  /** aborted by stop(): ends the waits for an unreachable database */
  const stopped = new AbortController();

  const abort = (id: string, reason: Error) => {
    const ac = running.get(id)?.ac;
    if (ac && !ac.signal.aborted) {
      log.info('aborting job', { id, reason: reason.message });
      ac.abort(reason);
    }
  };

  const listener: EventListener = await listenChannel(database.url, JOB_CANCEL_CHANNEL, {
    onNotification: (id) => abort(id, new JobCancelledError(id)),
    onStatus: (message, err) => log.warn(message, err ? { error: errorText(err) } : undefined),
  });

  let checking = false;
  const check = setInterval(() => {
    if (checking || running.size === 0) return;
    checking = true;
    const ids = [...running.keys()];
    jobStates(database.db, ids)
      .then((states) => {
        for (const id of ids) {
          const attempt = running.get(id)?.attempt;
          const reason = attempt === undefined ? undefined : lostReason(id, attempt, states.get(id));
          if (reason) abort(id, reason);
        }
      })
      .catch((err) => log.warn('job state check failed', { error: errorText(err) }))
      .finally(() => (checking = false));
  }, stateCheckMs);

  /**
   * pg-boss completes (or fails) a job by id as soon as its handler settles,
   * whatever attempt the job is in by then. So an attempt that was taken over
   * waits while a later attempt runs the job, lest it end that one; once the
   * job waits for its retry (or finished), it can end: pg-boss's `complete`
   * only touches active jobs. (A queue with no retry delay could still have the
   * retry handed out in the moment between the two.) Ends at shutdown.
   */
  const whileRunElsewhere = async (id: string, attempt: number, jobLog: Logger): Promise<void> => {
    let said = false;
    while (!stopping) {
      // A failed query is asked again; a job gone from the table ends the wait.
      const states = await jobStates(database.db, [id]).catch(() => undefined);
      if (states) {
        const now = states.get(id);
        if (!now || now.state !== 'active' || now.retryCount === attempt) return;
        if (!said) jobLog.info('waiting for the attempt that took the job over to end', { id, attempt: attempt + 1, running: now.retryCount + 1 });
        said = true;
      }
      await new Promise((r) => setTimeout(r, stateCheckMs));
    }
  };

  const run = async (kind: JobKind<any>, job: PgBoss.JobWithMetadata<object>): Promise<unknown> => {
    const jobLog = logger(`job:${kind.name}`);
    const ac = new AbortController();
    if (stopping) ac.abort(new WorkerShutdownError());
    running.set(job.id, { ac, attempt: job.retryCount });
    // Without the claim the job still runs; only a crash of this worker would then wait for pg-boss's expiry.
    await claimJob(database.db, job.id, kind.name, opts.workerId, job.retryCount).catch((err) => jobLog.warn('owner not recorded', { id: job.id, error: errorText(err) }));
    let last: unknown;
    const writeProgress = throttle(async () => {
      const p = last;
      try {
        await setJobProgress(database.db, job.id, kind.name, p);
        await events.publish(`job/${job.id}`, { id: job.id, kind: kind.name, progress: p });
      } catch (err) {
        jobLog.warn('progress not recorded', { id: job.id, error: errorText(err) });
      }
    }, POLICY.JOB_PROGRESS_MS);
    const cancelled = () => ac.signal.aborted && ac.signal.reason instanceof JobCancelledError;
    const lost = () => ac.signal.aborted && ac.signal.reason instanceof JobLostError;
    /** Ends an attempt that was taken over: returning leaves a job that waits for its retry so, where throwing would fail it again. */
    const endLost = async (): Promise<undefined> => {
      jobLog.info('attempt lost', { id: job.id, attempt: job.retryCount + 1, reason: (ac.signal.reason as Error).message });
      writeProgress.cancel(); // the job's progress is the later attempt's now
      await whileRunElsewhere(job.id, job.retryCount, jobLog);
      return undefined;
    };
    const ctx: JobContext = {
      database,
      boss,
      events,
      config,
      log: jobLog,
      signal: ac.signal,
      progress(p) {
        last = p;
        writeProgress();
      },
      willRetry: (err) => !isPermanentFailure(err) && !cancelled() && job.retryCount < job.retryLimit,
    };
    jobLog.debug('started', { id: job.id, attempt: job.retryCount + 1 });
    try {
      const result = await kind.handler(job, ctx);
      if (cancelled()) jobLog.info('cancelled', { id: job.id });
      if (lost()) return await endLost();
      return result;
    } catch (err) {
      if (cancelled()) {
        // pg-boss already has it cancelled; returning leaves it so (complete() only touches active jobs).
        jobLog.info('cancelled', { id: job.id, reason: (ac.signal.reason as Error).message });
        return undefined;
      }
      if (lost()) return await endLost();
      if (isPermanentFailure(err)) await disableRetries(database.db, kind.name, job.id).catch((e) => jobLog.warn('could not disable retries', { error: errorText(e) }));
      const retry = ctx.willRetry(err);
      (ac.signal.reason instanceof WorkerShutdownError ? jobLog.info : retry ? jobLog.warn : jobLog.error)(retry ? 'attempt failed; pg-boss retries it' : 'failed', {
        id: job.id,
        attempt: job.retryCount + 1,
        error: errorText(err),
      });
      // pg-boss records what is thrown as the job's output: no SQL, no parameters, nothing jsonb refuses
      throw recordableError(err);
    } finally {
      // Only this attempt's entry: a later attempt of the same job may have started here meanwhile.
      if (running.get(job.id)?.ac === ac) running.delete(job.id);
      // pg-boss records the outcome as soon as this returns, in a call nobody awaits: while the database is away
      // that write would be lost and the job left active until it expires. So the outcome waits for the database.
      await untilReachable(database.pool, { log: jobLog, signal: stopped.signal, what: `the outcome of job ${job.id} (kept for pg-boss)` });
      await writeProgress.flush();
    }
  };

  await createQueues(database.pool, boss, opts.kinds.map((k) => ({ ...k.queue, name: k.name })));
  for (const kind of opts.kinds) {
    const concurrency = kind.concurrency ?? config.workerConcurrency;
    // pg-boss 10: one `work` registration polls and runs one batch of 1 at a time, so N registrations = N concurrent jobs.
    for (let i = 0; i < concurrency; i++) {
      await boss.work<object>(
        kind.name,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: opts.pollingIntervalSeconds ?? POLICY.JOB_POLL_INTERVAL_S },
        async ([job]) => (job ? run(kind, job) : undefined),
      );
    }
    if (kind.schedule) await boss.schedule(kind.name, kind.schedule, {}, { tz: 'UTC' });
  }

  return {
    running: () => [...running.keys()],
    async stop() {
      if (stopping) return;
      stopping = true;
      stopped.abort();
      clearInterval(check);
      for (const id of running.keys()) abort(id, new WorkerShutdownError());
      await listener.close();
    },
  };
}
