/**
 * Runs job kinds on pg-boss and gives each running job an AbortSignal, which
 * pg-boss 10 does not: a job is aborted when the server announces its
 * cancellation (NOTIFY on `loupe_job_cancel`, heard within milliseconds), when
 * a periodic check finds it no longer active (the fallback for a missed
 * notification, a job expired by pg-boss or deleted), and when the worker
 * shuts down. Used by the worker entry and by in-process tests.
 */
import type PgBoss from 'pg-boss';
import { POLICY, type Config } from '../models/config.ts';
import { logger, type Logger } from '../models/log.ts';
import type { Database } from '../db/client.ts';
import { listenChannel, type EventListener, type Events } from '../db/events.ts';
import { disableRetries, JOB_CANCEL_CHANNEL, jobStates, setJobProgress } from '../db/queries/jobs.ts';
import { throttle } from '../models/transfer.ts';
import { JobCancelledError, PermanentJobError, WorkerShutdownError, type JobContext, type JobKind } from './job.ts';

export interface RunnerOptions {
  boss: PgBoss;
  database: Database;
  events: Events;
  config: Config;
  kinds: readonly JobKind<any>[];
  log: Logger;
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
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** Creates the queues of `kinds`, registers their handlers and schedules, and starts the cancellation watch. */
export async function startJobRunner(opts: RunnerOptions): Promise<JobRunner> {
  const { boss, database, events, config, log } = opts;
  const running = new Map<string, AbortController>();
  let stopping = false;

  const abort = (id: string, reason: Error) => {
    const ac = running.get(id);
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
          const state = states.get(id);
          if (state !== 'active') abort(id, new JobCancelledError(id, state ? `the job is ${state}` : 'the job is gone from the queue'));
        }
      })
      .catch((err) => log.warn('job state check failed', { error: errorText(err) }))
      .finally(() => (checking = false));
  }, opts.stateCheckMs ?? POLICY.JOB_STATE_CHECK_MS);

  const run = async (kind: JobKind<any>, job: PgBoss.JobWithMetadata<object>): Promise<unknown> => {
    const jobLog = logger(`job:${kind.name}`);
    const ac = new AbortController();
    if (stopping) ac.abort(new WorkerShutdownError());
    running.set(job.id, ac);
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
    const ctx: JobContext = {
      database,
      events,
      config,
      log: jobLog,
      signal: ac.signal,
      progress(p) {
        last = p;
        writeProgress();
      },
      willRetry: (err) => !(err instanceof PermanentJobError) && !cancelled() && job.retryCount < job.retryLimit,
    };
    jobLog.debug('started', { id: job.id, attempt: job.retryCount + 1 });
    try {
      const result = await kind.handler(job, ctx);
      if (cancelled()) jobLog.info('cancelled', { id: job.id });
      return result;
    } catch (err) {
      if (cancelled()) {
        // pg-boss already has it cancelled; returning leaves it so (complete() only touches active jobs).
        jobLog.info('cancelled', { id: job.id, reason: (ac.signal.reason as Error).message });
        return undefined;
      }
      if (err instanceof PermanentJobError) await disableRetries(database.db, kind.name, job.id).catch((e) => jobLog.warn('could not disable retries', { error: errorText(e) }));
      const retry = ctx.willRetry(err);
      (ac.signal.reason instanceof WorkerShutdownError ? jobLog.info : retry ? jobLog.warn : jobLog.error)(retry ? 'attempt failed; pg-boss retries it' : 'failed', {
        id: job.id,
        attempt: job.retryCount + 1,
        error: errorText(err),
      });
      throw err;
    } finally {
      running.delete(job.id);
      await writeProgress.flush();
    }
  };

  for (const kind of opts.kinds) {
    await boss.createQueue(kind.name, { name: kind.name, ...kind.queue });
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
      clearInterval(check);
      for (const id of running.keys()) abort(id, new WorkerShutdownError());
      await listener.close();
    },
  };
}
