/**
 * Recovery of the jobs of dead workers. When a worker process dies without a
 * word (SIGKILL, an OOM kill, a power loss), pg-boss leaves its jobs `active`
 * until their `expireInSeconds` runs out — hours for a download. So every
 * worker, after each of its heartbeats, fails through pg-boss (`boss.fail`)
 * the active jobs whose worker has sent no heartbeat for
 * POLICY.WORKER_DEAD_AFTER_MS (3 heartbeats) or is gone from table `workers`.
 * pg-boss's own retry rules then apply: the job comes back as `retry` after
 * its queue's delay, a live worker (or the restarted one) takes it, and the
 * handler continues from its last checkpoint (a download from its `.part`
 * files).
 *
 * What keeps a live worker's job from being failed:
 * - a worker is judged by its heartbeats on the database's clock
 *   (`workers.heartbeat_at`), never by the clocks of two hosts;
 * - only the job's current attempt counts: the claim (`job_progress.worker_id`
 *   and `attempt`) is written by the runner when the attempt starts, and an
 *   attempt that started less than the threshold ago is never failed;
 * - a worker never judges its own jobs, writes its first heartbeat before it
 *   takes any job, and judges others only once its own heartbeats have
 *   succeeded without a break for the whole threshold — after a database
 *   outage every live worker has had time to beat again before anyone judges;
 * - the jobs are row-locked from the check to the `fail`, so many workers
 *   sweeping at once fail each job once, and never one that changed meanwhile.
 * A worker that froze past the threshold and wakes up finds its job taken
 * over (JobLostError) and stops without touching what the next attempt owns.
 */
import type PgBoss from 'pg-boss';
import type { Logger } from '../models/log.ts';
import type { Database } from '../db/client.ts';
import { failJobsOfDeadWorkers, type DeadWorkerJob } from '../db/queries/jobs.ts';

export type { DeadWorkerJob };

export interface RecoveryOptions {
  boss: PgBoss;
  database: Database;
  /** id of the worker that sweeps (its own jobs are never failed) */
  workerId: string;
  /** ms without a heartbeat (database clock) after which a worker is taken for dead */
  deadAfterMs: number;
  log: Logger;
}

/** What pg-boss stores as the output of a job failed by the recovery. */
function failure(job: DeadWorkerJob, self: string): { message: string; deadWorker: string; recoveredBy: string } {
  const who = job.host !== null ? `worker ${job.workerId} (${job.host}, pid ${job.pid})` : `worker ${job.workerId}`;
  const why = job.silentMs !== null ? `sent no heartbeat for ${Math.round(job.silentMs / 1000)} s` : 'is gone';
  return { message: `${who} ${why}; the attempt was failed so that it runs again`, deadWorker: job.workerId, recoveredBy: self };
}

/**
 * One sweep: fails, through pg-boss, the active jobs of workers dead for
 * `deadAfterMs`, and logs each one. Safe to run on many workers at once.
 *
 * @returns the jobs it failed
 */
export async function recoverJobsOfDeadWorkers(opts: RecoveryOptions): Promise<DeadWorkerJob[]> {
  const { boss, database, workerId, deadAfterMs, log } = opts;
  const jobs = await failJobsOfDeadWorkers(database, { self: workerId, deadAfterMs }, async (found, executor) => {
    // One call per job, each with its own output; all on the transaction that holds the locks.
    for (const job of found) await boss.fail(job.kind, job.id, failure(job, workerId), { db: executor });
  });
  for (const job of jobs) {
    log.warn('recovered the job of a dead worker', {
      id: job.id,
      kind: job.kind,
      attempt: job.attempt + 1,
      deadWorker: job.workerId,
      host: job.host ?? undefined,
      pid: job.pid ?? undefined,
      silentS: job.silentMs === null ? 'gone' : Math.round(job.silentMs / 1000),
    });
  }
  return jobs;
}

/** A worker's recovery, driven by its heartbeat. */
export interface JobRecovery {
  /**
   * Call after each heartbeat with whether it was written. Sweeps (see
   * {@link recoverJobsOfDeadWorkers}) once this worker's heartbeats have
   * succeeded without a break for `deadAfterMs`; a failed beat restarts that
   * wait. Never throws (a failed sweep is logged and tried on the next beat).
   *
   * @param now ms since epoch, this process's clock (only differences are used)
   */
  afterHeartbeat(ok: boolean, now?: number): Promise<DeadWorkerJob[]>;
  /** No sweep after this (the worker is shutting down). */
  stop(): void;
}

/**
 * Creates the recovery a worker runs on its heartbeat. `sweep` is the sweep
 * it runs when due (tests count the calls).
 *
 * @example
 * const recovery = createJobRecovery({ boss, database, workerId: info.id, deadAfterMs: POLICY.WORKER_DEAD_AFTER_MS, log });
 * setInterval(() => beat().then(() => true, () => false).then((ok) => recovery.afterHeartbeat(ok)), POLICY.WORKER_HEARTBEAT_MS);
 */
export function createJobRecovery(opts: RecoveryOptions, sweep: (opts: RecoveryOptions) => Promise<DeadWorkerJob[]> = recoverJobsOfDeadWorkers): JobRecovery {
  let beatingSince: number | undefined;
  let sweeping = false;
  let stopped = false;
  return {
    async afterHeartbeat(ok, now = Date.now()) {
      if (!ok) {
        beatingSince = undefined;
        return [];
      }
      beatingSince ??= now;
      if (stopped || sweeping || now - beatingSince < opts.deadAfterMs) return [];
      sweeping = true;
      try {
        return await sweep(opts);
      } catch (err) {
        opts.log.warn('recovery of dead workers\' jobs failed', { error: err instanceof Error ? err.message : String(err) });
        return [];
      } finally {
        sweeping = false;
      }
    },
    stop() {
      stopped = true;
    },
  };
}
