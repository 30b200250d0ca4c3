/**
 * What the job kinds that fill an artifact's row share (model.download,
 * dataset.import, activations.extract, features.discover, sae.train): one
 * reporter that writes the row's progress a few times a second and publishes
 * it live ({@link createArtifactReporter}), and one way for an attempt that
 * threw to end — cancelled, lost, stopped by a shutdown, retried or failed
 * ({@link endJob}). Each kind keeps its own progress shape, row, topic and
 * files, and passes them in; this file knows only the order of the writes.
 */
import type PgBoss from 'pg-boss';
import { POLICY } from '../models/config.ts';
import { throttle } from '../models/transfer.ts';
import { JobCancelledError, JobLostError, WorkerShutdownError, type JobContext } from './job.ts';

/**
 * What a kind tells {@link createArtifactReporter}. `P` is the progress
 * payload (e.g. ModelProgress), `S` the row's statuses, `U` the row's update
 * (e.g. ModelUpdate), `R` what the row's update returns when it changed a row.
 */
export interface ArtifactReporterOptions<P, S extends string, U extends { status?: S }, R> {
  ctx: JobContext;
  /** the row's id, named in log lines */
  id: string;
  /** The progress now, as the row stores it and the live event carries it; read once per write or publish. */
  snapshot(): P;
  /** What the job's own record gets at each tick through `ctx.progress` (e.g. `{bytesDone, bytesTotal, fraction}`, fraction in [0, 1]). */
  jobProgress(p: P): unknown;
  /**
   * The row's guarded update (e.g. `updateModel`): writes `set` and progress
   * `p` (into the row, or where the kind keeps its progress) only while the
   * row's status is one of `onlyIf`; resolves to the changed row, or
   * undefined when no row changed. Every kind's statuses include `running`,
   * which guards the ticks.
   */
  update(p: P, set: U, onlyIf: S[]): Promise<R | undefined>;
  /**
   * Publishes the live event of progress `p` (e.g. on topic `model/{id}`):
   * after an update that changed `row`, and at a tick that writes no row
   * (`row` undefined, see `publishOnly`).
   */
  publish(p: P, row: R | undefined): Promise<void>;
  /** true while ticks publish and leave the row alone (the row keeps no running progress, or a transaction holds it); default never */
  publishOnly?(): boolean;
  /** Sends what the kind batches besides the progress (metric points): first at each tick, and once more (its failure ignored) when the ticks end. */
  sendBatched?(): Promise<void>;
  /** Sets the kind's final progress for status `status` and update `set`; runs once the ticks are over, before {@link ArtifactReporter.finish}'s write. */
  onFinish?(status: S, set: U): void;
  /** ms between two ticks' writes; default POLICY.JOB_PROGRESS_MS */
  throttleMs?: number;
}

/** The row side of a running job: throttled progress, and its final write. */
export interface ArtifactReporter<S extends string, U, R> {
  /**
   * Records the progress: at most one write (or publish) per throttle
   * interval, the last one always made. A failed write is logged ('progress
   * not recorded') and does not fail the job; the write is guarded to
   * `running`, so a late tick never undoes a cancellation or pause the server
   * wrote. Ignored once the reporter is abandoned or finished.
   */
  tick(): void;
  /** Makes the pending tick now (a short phase would otherwise fall between two ticks). */
  flush(): Promise<void>;
  /** Writes `set` with the progress now, unthrottled, guarded by `onlyIf`; publishes when the row changed, and returns it. */
  write(set: U, onlyIf: S[]): Promise<R | undefined>;
  /** Drops the pending tick and writes nothing more: the row belongs to another attempt now. */
  abandon(): void;
  /** Ends the ticks (the pending one made, the batched sends sent) and leaves the final write to the caller. */
  settle(): Promise<void>;
  /**
   * Ends the ticks and writes status `status` with `set` and the final
   * progress, guarded by `onlyIf`. When the row changed, runs `afterCommit`
   * (removing what the row no longer needs) and then publishes, so that a
   * listener hears the final event last. Resolves to the changed row.
   */
  finish(status: S, set: U, onlyIf: S[], afterCommit?: (row: R) => Promise<void>): Promise<R | undefined>;
}

/**
 * A reporter of a job's progress into its artifact's row and topic.
 *
 * @example
 * const report = createArtifactReporter<ModelProgress, ModelStatus, ModelUpdate, ModelRow>({
 *   ctx,
 *   id: model.id,
 *   snapshot: () => ({ id: model.id, status, ...tracker.snapshot(Date.now()), error, ts: Date.now() }),
 *   jobProgress: (p) => ({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, fraction: p.bytesTotal ? p.bytesDone / p.bytesTotal : 0 }),
 *   update: (p, set, onlyIf) => updateModel(db, model.id, { ...set, progress: p }, onlyIf),
 *   publish: (p) => ctx.events.publish(`model/${model.id}`, p),
 * });
 * report.tick(); // after each change of what snapshot() reads
 * await report.finish('completed', { error: null }, ['running']);
 */
export function createArtifactReporter<P, S extends string, U extends { status?: S }, R>(opts: ArtifactReporterOptions<P, S, U, R>): ArtifactReporter<S, U, R> {
  const { ctx, id } = opts;
  let active = true;

  const write = async (p: P, set: U, onlyIf: S[]): Promise<R | undefined> => {
    const row = await opts.update(p, set, onlyIf);
    if (row) await opts.publish(p, row);
    return row;
  };

  const tick = throttle(async () => {
    const p = opts.snapshot();
    ctx.progress(opts.jobProgress(p));
    try {
      await opts.sendBatched?.();
      if (opts.publishOnly?.()) await opts.publish(p, undefined);
      // Only while running: a late tick must not undo a pause or cancellation the server wrote.
      else await write(p, {} as U, ['running' as S]);
    } catch (err) {
      ctx.log.warn('progress not recorded', { id, error: String(err) });
    }
  }, opts.throttleMs ?? POLICY.JOB_PROGRESS_MS);

  const settle = async (): Promise<void> => {
    tick.cancel();
    await tick.flush();
    await opts.sendBatched?.().catch(() => undefined);
  };

  return {
    tick() {
      if (active) tick();
    },
    flush: () => tick.flush(),
    write: (set, onlyIf) => write(opts.snapshot(), set, onlyIf),
    abandon() {
      active = false;
      tick.cancel();
    },
    settle,
    async finish(status, set, onlyIf, afterCommit) {
      active = false;
      await settle();
      opts.onFinish?.(status, set);
      const p = opts.snapshot();
      const row = await opts.update(p, { ...set, status }, onlyIf);
      if (row) {
        await afterCommit?.(row);
        await opts.publish(p, row);
      }
      return row;
    },
  };
}

/** The statuses {@link endJob} writes and guards on: every artifact row has them. */
export type EndStatus = 'queued' | 'running' | 'cancelled' | 'failed';

/** What {@link endJob} needs of a reporter: an {@link ArtifactReporter} of a row with the {@link EndStatus} statuses. */
export interface EndingReporter<U, R> {
  finish(status: EndStatus, set: U, onlyIf: EndStatus[]): Promise<R | undefined>;
  abandon(): void;
}

/** What differs between kinds when an attempt ends by throwing; see {@link endJob}. */
export interface JobEnding<U extends { error?: string | null }, R> {
  /** The kind's reading of a failure: ones no retry can fix wrapped in PermanentJobError. */
  classify(err: unknown): Error;
  /** The row's error when a worker shutdown stops the job, saying how it resumes (e.g. 'the worker stopped; the download resumes on the next attempt'). */
  shutdownNote: string;
  /** How the row's error of a failure pg-boss retries ends: 'retrying' (default), or where the retry starts ('retrying from the last shard'). */
  retrying?: string;
  /** The write of a cancelled job; default `{error: null}` while queued, running or cancelled. */
  cancelled?: { set: U; onlyIf: EndStatus[] };
  /** More to write with a failure that is not retried (e.g. `{finishedAt}`). */
  failed?: U;
  /** Removes the job's files before the row says it ended for good (cancelled, or failed with no retry left). */
  discard?(): Promise<void>;
  /** Runs after the row's final write of a job that ended for good, given the changed row (undefined: the row was not changed: gone, or in another status). */
  afterEnd?(ending: 'cancelled' | 'failed', row: R | undefined): Promise<void>;
}

/**
 * Ends an attempt whose handler threw `raw`, by why it ended:
 * - cancelled by a user (signal reason {@link JobCancelledError}): `discard`,
 *   the row `cancelled`, `afterEnd`;
 * - lost to another attempt ({@link JobLostError}): the reporter abandoned,
 *   and neither the row nor the files touched (they belong to that attempt);
 * - a worker shutdown ({@link WorkerShutdownError}): the row `queued` with
 *   `shutdownNote`, the files kept for the retry;
 * - a failure pg-boss retries: the row `queued` with the error and the
 *   attempt (`… (attempt 2 of 3; retrying)`), the files kept;
 * - a failure for good (permanent, or no retry left): `discard`, the row
 *   `failed` with the error, `afterEnd`.
 * Resolves to what the handler throws: the abort reason, or the classified
 * error (the runner logs it and pg-boss records it).
 *
 * @example
 * } catch (raw) {
 *   throw await endJob(raw, job, ctx, report, { classify, shutdownNote: 'the worker stopped; the import resumes on the next attempt', discard: () => rm(dir, { recursive: true, force: true }) });
 * }
 */
export async function endJob<U extends { error?: string | null }, R>(
  raw: unknown,
  job: Pick<PgBoss.JobWithMetadata, 'retryCount' | 'retryLimit'>,
  ctx: JobContext,
  report: EndingReporter<U, R>,
  how: JobEnding<U, R>,
): Promise<Error> {
  const reason: unknown = ctx.signal.aborted ? ctx.signal.reason : undefined;
  if (reason instanceof JobCancelledError) {
    await how.discard?.();
    const { set, onlyIf } = how.cancelled ?? { set: { error: null } as U, onlyIf: ['queued', 'running', 'cancelled'] };
    await how.afterEnd?.('cancelled', await report.finish('cancelled', set, onlyIf));
    return reason;
  }
  if (reason instanceof JobLostError) {
    // The job was failed behind this attempt (taken for dead) and runs again: its next attempt owns the files and the row.
    report.abandon();
    return reason;
  }
  if (reason instanceof WorkerShutdownError) {
    await report.finish('queued', { error: how.shutdownNote } as U, ['running']);
    return reason;
  }
  const err = how.classify(raw);
  const retry = ctx.willRetry(err);
  if (retry) {
    await report.finish('queued', { error: `${err.message} (attempt ${job.retryCount + 1} of ${job.retryLimit + 1}; ${how.retrying ?? 'retrying'})` } as U, ['running']);
    return err;
  }
  await how.discard?.();
  const row = await report.finish('failed', { error: err.message, ...how.failed } as U, ['running']);
  await how.afterEnd?.('failed', row);
  return err;
}
