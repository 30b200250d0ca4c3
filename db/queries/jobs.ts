/**
 * Jobs as pg-boss 10 stores them (`pgboss.job`, and `pgboss.archive` for
 * finished jobs older than its archive interval), read for the jobs API, plus
 * the two things pg-boss 10 lacks: a progress record per job and a
 * notification that tells workers a job was cancelled.
 *
 * pg-boss owns its tables; besides reading them, the only write here is
 * {@link disableRetries}, which sets `retry_limit` of one active job.
 */
import { sql, type SQL } from 'drizzle-orm';
import { FINISHED_JOB_STATES, type JobState } from '../../models/contracts/jobs.ts';
import type { Db } from '../client.ts';
import { jobProgress } from '../schema.ts';

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

/** Records a job's latest progress (one row per job, overwritten). */
export async function setJobProgress(db: Db, jobId: string, kind: string, progress: unknown): Promise<void> {
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

/** Current states of the given active-table jobs; ids that are gone (deleted, archived) are missing from the map. */
export async function jobStates(db: Db, ids: string[]): Promise<Map<string, JobState>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.execute<{ id: string; state: JobState }>(
    sql`SELECT id, state::text AS state FROM ${sql.raw(`${BOSS_SCHEMA}.job`)} WHERE id = ANY(${`{${ids.join(',')}}`}::uuid[])`,
  );
  return new Map(rows.map((r) => [r.id, r.state]));
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
