/**
 * The shape of a job kind: one file per kind in workers/, each exporting a
 * {@link JobKind}. The worker entry registers every kind listed in index.ts
 * and runs them through workers/runner.ts.
 */
import type PgBoss from 'pg-boss';
import type { Database } from '../db/client.ts';
import type { Events } from '../db/events.ts';
import type { Config } from '../models/config.ts';
import type { Logger } from '../models/log.ts';
import { InsufficientMemoryError, isAllocationFailure } from '../models/memory.ts';
import { isPermanentModelError } from '../models/model-check.ts';

/** What a handler gets besides its job. */
export interface JobContext {
  database: Database;
  /** the worker's pg-boss, for jobs that send jobs (with `db` for a send inside a transaction) */
  boss: PgBoss;
  events: Events;
  config: Config;
  log: Logger;
  /**
   * Aborts when the job must stop: cancelled by a user, or finished or gone
   * from the queue (reason {@link JobCancelledError}, within about a second of
   * the cancel); failed or expired behind this attempt's back so that pg-boss
   * runs it again (reason {@link JobLostError}); or the worker shutting down
   * (reason {@link WorkerShutdownError}; the job is retried later). Pass it to
   * every long call.
   */
  signal: AbortSignal;
  /**
   * Records the job's progress (any JSON value) for `GET /api/jobs/{id}` and
   * publishes it on topic `job/{id}`. Cheap to call often: writes are
   * throttled to a few per second, and the last value is always written.
   */
  progress(p: unknown): void;
  /** true when a failure of this attempt will be retried by pg-boss (the error is not permanent and retries are left) */
  willRetry(err: unknown): boolean;
}

/** One job kind: its pg-boss queue, options and handler. */
export interface JobKind<Data extends object = object> {
  /** queue name, e.g. `model.download` */
  name: string;
  queue?: Omit<PgBoss.Queue, 'name'>;
  /** cron expression (UTC) when the job runs on a schedule, once per cluster */
  schedule?: string;
  /** jobs one worker runs at once; defaults to WORKER_CONCURRENCY */
  concurrency?: number;
  /**
   * Runs one job. Throwing fails the attempt (pg-boss retries it unless the
   * error is permanent, {@link isPermanentFailure}, or retries are used up); returning
   * after the signal aborted with {@link JobCancelledError} leaves the job
   * cancelled.
   */
  handler(job: PgBoss.JobWithMetadata<Data>, ctx: JobContext): Promise<unknown>;
}

/** A failure no retry can fix (a missing repository, an unsupported architecture): the job fails at once. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

/**
 * True for a failure no retry can fix, whatever the job kind: a
 * {@link PermanentJobError}, a model whose config or weights are wrong
 * (ModelFormatError, SafetensorsError, an unsupported architecture), a job
 * estimated too large for this host (InsufficientMemoryError), or an
 * allocation that failed (the next attempt asks for the same memory).
 */
export function isPermanentFailure(err: unknown): boolean {
  return err instanceof PermanentJobError || err instanceof InsufficientMemoryError || isPermanentModelError(err) || isAllocationFailure(err);
}

/** The abort reason of a job a user cancelled (or that left the active state while it ran). */
export class JobCancelledError extends Error {
  constructor(
    readonly jobId: string,
    message = 'cancelled',
  ) {
    super(message);
    this.name = 'JobCancelledError';
  }
}

/**
 * The abort reason of an attempt whose job left it without a cancel: pg-boss
 * has it waiting for a retry, or already running as a later attempt (the
 * recovery took this worker for dead, or the job expired). Another attempt
 * owns the job and its files now: stop, and clean up nothing.
 */
export class JobLostError extends Error {
  constructor(
    readonly jobId: string,
    message: string,
  ) {
    super(message);
    this.name = 'JobLostError';
  }
}

/** The abort reason of the jobs of a worker that is shutting down: they are retried on another attempt. */
export class WorkerShutdownError extends Error {
  constructor() {
    super('the worker is shutting down; the job will be retried');
    this.name = 'WorkerShutdownError';
  }
}
