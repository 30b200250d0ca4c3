/**
 * Jobs as pg-boss 10 stores them (`pgboss.job`, and `pgboss.archive` for
 * finished jobs older than its archive interval), read for the jobs API, plus
 * the things pg-boss 10 lacks: a progress record per job, the worker that
 * runs it, and a notification that tells workers a job was cancelled.
 *
 * pg-boss owns its tables; besides reading (and row-locking) them, the only
 * write here is {@link disableRetries}, which sets `retry_limit` of one active
 * job. Failing the jobs of dead workers goes through pg-boss's own `fail`.
 */
import { sql, type SQL } from 'drizzle-orm';
import { FINISHED_JOB_STATES, type JobState } from '../../models/contracts/jobs.ts';
import { safeJson } from '../../models/safe-text.ts';
import type { Database, Db } from '../client.ts';
import { jobProgress } from '../schema.ts';
import { inTransaction, type JobSqlExecutor } from './transaction.ts';

/** The schema pg-boss was started with (its default). */
export const BOSS_SCHEMA = 'pgboss';

/** The PostgreSQL channel on which the server announces cancelled jobs; the payload is the job id. */
export const JOB_CANCEL_CHANNEL = 'loupe_job_cancel';

/** A job as the API shows it; times in ms since epoch. */
export interface JobRow {
  id: string;
  kind: string;
  state: JobState;
  data: unknown;
  output: unknown;
  progress: unknown;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  retryCount: number;
  retryLimit: number;
}

type RawJob = {
  id: string;
  name: string;
  state: JobState;
  data: unknown;
  output: unknown;
  progress: unknown;
  created_on: Date;
  started_on: Date | null;
  completed_on: Date | null;
  retry_count: number;
  retry_limit: number;
};

const COLUMNS = 'id, name, state::text AS state, data, output, created_on, started_on, completed_on, retry_count, retry_limit';

/** Both job tables as one relation (a job lives in exactly one of them). */
const ALL_JOBS = sql.raw(`(SELECT ${COLUMNS} FROM ${BOSS_SCHEMA}.job UNION ALL SELECT ${COLUMNS} FROM ${BOSS_SCHEMA}.archive)`);

function toRow(r: RawJob): JobRow {
  return {
    id: r.id,
    kind: r.name,
    state: r.state,
    data: r.data ?? null,
    output: r.output ?? null,
    progress: r.progress ?? null,
    createdAt: new Date(r.created_on).getTime(),
    startedAt: r.started_on ? new Date(r.started_on).getTime() : null,
    completedAt: r.completed_on ? new Date(r.completed_on).getTime() : null,
    retryCount: r.retry_count,
    retryLimit: r.retry_limit,
  };
}

/** Filters of {@link listJobs}. */
export interface JobFilter {
  kind?: string;
  state?: JobState;
  limit: number;
  offset: number;
}

/** Jobs matching the filter, newest first, and how many match in all. pg-boss's internal queues are left out. */
export async function listJobs(db: Db, f: JobFilter): Promise<{ jobs: JobRow[]; total: number }> {
  const where: SQL[] = [sql`j.name NOT LIKE '\\_\\_pgboss\\_\\_%'`];
  if (f.kind !== undefined) where.push(sql`j.name = ${f.kind}`);
  if (f.state !== undefined) where.push(sql`j.state = ${f.state}`);
  const cond = sql.join(where, sql` AND `);
  const [page, count] = await Promise.all([
    db.execute<RawJob>(sql`SELECT j.*, p.progress FROM ${ALL_JOBS} j LEFT JOIN job_progress p ON p.job_id = j.id
      WHERE ${cond} ORDER BY j.created_on DESC, j.id LIMIT ${f.limit} OFFSET ${f.offset}`),
    db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${ALL_JOBS} j WHERE ${cond}`),
  ]);
  return { jobs: page.rows.map(toRow), total: count.rows[0]?.n ?? 0 };
}

/** One job by id, from either table; undefined when unknown. */
export async function getJob(db: Db, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.execute<RawJob>(
    sql`SELECT j.*, p.progress FROM ${ALL_JOBS} j LEFT JOIN job_progress p ON p.job_id = j.id WHERE j.id = ${id}::uuid LIMIT 1`,
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** True when a job in this state never runs again. */
export function isFinished(state: JobState): boolean {
  return FINISHED_JOB_STATES.includes(state);
}

/** Records a job's latest progress (one row per job, overwritten), its strings made storable (models/safe-text.ts). */
export async function setJobProgress(db: Db, jobId: string, kind: string, value: unknown): Promise<void> {
  const progress = safeJson(value);
  await db
    .insert(jobProgress)
    .values({ jobId, kind, progress, updatedAt: new Date() })
    .onConflictDoUpdate({ target: jobProgress.jobId, set: { progress, updatedAt: new Date() } });
}

/** Deletes progress rows not updated for `olderThanH` hours. */
export async function pruneJobProgress(db: Db, olderThanH: number, now = Date.now()): Promise<void> {
  await db.execute(sql`DELETE FROM job_progress WHERE updated_at < ${new Date(now - olderThanH * 3600_000)}`);
}

/** Tells every worker (through LISTEN on {@link JOB_CANCEL_CHANNEL}) that a job was cancelled. */
export async function notifyJobCancelled(db: Db, id: string): Promise<void> {
  await db.execute(sql`SELECT pg_notify(${JOB_CANCEL_CHANNEL}, ${id})`);
}

/**
 * Current states of the given active-table jobs, with pg-boss's `retry_count`
 * (which it raises each time it hands out a job again, so it names the
 * attempt); ids that are gone (deleted, archived) are missing from the map.
 */
export async function jobStates(db: Db, ids: string[]): Promise<Map<string, { state: JobState; retryCount: number }>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.execute<{ id: string; state: JobState; retry_count: number }>(
    sql`SELECT id, state::text AS state, retry_count FROM ${sql.raw(`${BOSS_SCHEMA}.job`)} WHERE id = ANY(${`{${ids.join(',')}}`}::uuid[])`,
  );
  return new Map(rows.map((r) => [r.id, { state: r.state, retryCount: r.retry_count }]));
}

/**
 * Records that worker `workerId` runs attempt `attempt` (pg-boss's
 * `retry_count`) of a job, keeping the job's last progress. Written when the
 * attempt starts, before its handler runs.
 */
export async function claimJob(db: Db, jobId: string, kind: string, workerId: string, attempt: number): Promise<void> {
  await db
    .insert(jobProgress)
    .values({ jobId, kind, workerId, attempt, updatedAt: sql`now()` })
    .onConflictDoUpdate({ target: jobProgress.jobId, set: { workerId, attempt, updatedAt: sql`now()` } });
}

/** An active job whose worker is dead, as {@link failJobsOfDeadWorkers} finds it. */
export interface DeadWorkerJob {
  id: string;
  kind: string;
  /** pg-boss's retry_count of the attempt that died */
  attempt: number;
  workerId: string;
  /** the dead worker's host and pid, when its row is still there */
  host: string | null;
  pid: number | null;
  /** ms since its last heartbeat (database clock); null when its row is gone */
  silentMs: number | null;
}

/**
 * In one transaction: finds and row-locks the `active` jobs whose current
 * attempt was claimed ({@link claimJob}) by another worker than `self` that
 * has not heartbeated for `deadAfterMs` (database clock) or whose row is
 * gone, and whose attempt started more than `deadAfterMs` ago; then hands them
 * to `fail`, which must fail them through pg-boss with the executor it gets,
 * on the same connection. Jobs locked by a concurrent call are skipped, and
 * the locks keep each job active and unchanged until `fail` has run, so many
 * workers may call this at once and a job is failed once. A job without a
 * claim (its worker died before writing one) is left to pg-boss's expiry.
 *
 * @returns the jobs that were failed; none when `fail` throws (the transaction is rolled back and the error thrown)
 */
export async function failJobsOfDeadWorkers(
  database: Database,
  opts: { self: string; deadAfterMs: number; limit?: number },
  fail: (jobs: DeadWorkerJob[], executor: JobSqlExecutor) => Promise<void>,
): Promise<DeadWorkerJob[]> {
  return inTransaction(database, async ({ db: tx, executor }) => {
    const dead = sql`now() - ${opts.deadAfterMs} * interval '1 millisecond'`;
    const { rows } = await tx.execute<{ id: string; kind: string; attempt: number; worker_id: string; host: string | null; pid: number | null; silent_ms: string | null }>(sql`
      SELECT j.id::text AS id, j.name AS kind, j.retry_count AS attempt, p.worker_id, w.host, w.pid,
             round(extract(epoch FROM now() - w.heartbeat_at) * 1000)::bigint AS silent_ms
      FROM ${sql.raw(`${BOSS_SCHEMA}.job`)} j
      JOIN job_progress p ON p.job_id = j.id AND p.attempt = j.retry_count
      LEFT JOIN workers w ON w.id = p.worker_id
      WHERE j.state = 'active'
        AND p.worker_id IS NOT NULL AND p.worker_id <> ${opts.self}
        AND j.started_on < ${dead}
        AND (w.id IS NULL OR w.heartbeat_at < ${dead})
      ORDER BY j.started_on, j.id
      LIMIT ${opts.limit ?? 100}
      FOR UPDATE OF j SKIP LOCKED`);
    const jobs: DeadWorkerJob[] = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      attempt: r.attempt,
      workerId: r.worker_id,
      host: r.host,
      pid: r.pid,
      silentMs: r.silent_ms === null ? null : Number(r.silent_ms),
    }));
    if (jobs.length > 0) await fail(jobs, executor);
    return jobs;
  });
}

/**
 * Makes the failure of an active job final: pg-boss 10 retries every failed
 * job while `retry_count < retry_limit` and has no "fail for good", so a
 * handler whose error no retry can fix (a missing repository, an unsupported
 * architecture) lowers the limit before it throws.
 */
export async function disableRetries(db: Db, kind: string, id: string): Promise<void> {
  await db.execute(sql`UPDATE ${sql.raw(`${BOSS_SCHEMA}.job`)} SET retry_limit = retry_count WHERE name = ${kind} AND id = ${id}::uuid AND state = 'active'`);
}
