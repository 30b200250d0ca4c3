/**
 * The state of the first-start demo (workers/demo-setup.ts), kept in the
 * key/value `settings` table under key `demo`: its `demo.setup` job, the
 * artifacts it made (each recorded in the transaction that made it), and
 * how it ended. The demo is built once per database: a `done`, `stopped` or
 * `failed` demo is not started again (delete the row to start it again).
 */
import { eq, sql } from 'drizzle-orm';
import type { Database, Db } from '../client.ts';
import { settings } from '../schema.ts';
import { inTransaction, type JobSqlExecutor } from './transaction.ts';

export const DEMO_STATE_KEY = 'demo';

/**
 * `queued`/`running`: its job is on it; `done`: every artifact made;
 * `stopped`: a user deleted or cancelled one of them (or the job), so the
 * rest is not made; `failed`: a step failed (`error` says which and why).
 */
export type DemoStatus = 'queued' | 'running' | 'done' | 'stopped' | 'failed';

export interface DemoState {
  status: DemoStatus;
  /** the `demo.setup` job building it */
  jobId: string | null;
  extractionId: string | null;
  trainingId: string | null;
  saeId: string | null;
  discoveryId: string | null;
  /** what the job is doing or waiting for, for people */
  step: string | null;
  error: string | null;
}

/** Statuses after which the demo is never started again. */
export const FINAL_DEMO_STATUSES: readonly DemoStatus[] = ['done', 'stopped', 'failed'];

const EMPTY: DemoState = { status: 'queued', jobId: null, extractionId: null, trainingId: null, saeId: null, discoveryId: null, step: null, error: null };

function parse(value: unknown): DemoState {
  return { ...EMPTY, ...(value && typeof value === 'object' ? (value as Partial<DemoState>) : {}) };
}

/** The demo's state, or null when no worker ever started it against this database. */
export async function getDemoState(db: Db): Promise<DemoState | null> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, DEMO_STATE_KEY));
  return row ? parse(row.value) : null;
}

/** Merges `patch` into the stored state (created when missing) and returns the result. */
export async function updateDemoState(db: Db, patch: Partial<DemoState>): Promise<DemoState> {
  const value = { ...EMPTY, ...patch };
  const [row] = await db
    .insert(settings)
    .values({ key: DEMO_STATE_KEY, value })
    .onConflictDoUpdate({ target: settings.key, set: { value: sql`${settings.value} || ${JSON.stringify(patch)}::jsonb`, updatedAt: new Date() } })
    .returning({ value: settings.value });
  return parse(row!.value);
}

/**
 * Claims the demo for a new `demo.setup` job, in one transaction: creates or
 * locks its state row, checks that it is not finished and that its job is
 * still `expectedJobId` (what the caller saw when it decided a job is
 * needed), sends the job through `send` on the same connection and records
 * it. Of several workers starting at once, exactly one sends the job.
 *
 * @returns the new job id, or null when the demo is finished, another process claimed it first, or `send` created no job
 */
export async function claimDemoSetup(database: Database, expectedJobId: string | null, send: (executor: JobSqlExecutor) => Promise<string | null>): Promise<string | null> {
  return inTransaction(database, async ({ db, executor }) => {
    await db.insert(settings).values({ key: DEMO_STATE_KEY, value: EMPTY }).onConflictDoNothing();
    const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, DEMO_STATE_KEY)).for('update');
    const state = parse(row?.value);
    if (FINAL_DEMO_STATUSES.includes(state.status) || state.jobId !== expectedJobId) return null;
    const jobId = await send(executor);
    if (!jobId) return null;
    await updateDemoState(db, { status: 'queued', jobId, error: null });
    return jobId;
  });
}

/**
 * Marks the demo stopped when `jobId` is its job and it has not finished (a
 * user cancelled the `demo.setup` job, perhaps before it started): it is then
 * not queued again. Returns whether it did.
 */
export async function stopDemoOfJob(db: Db, jobId: string): Promise<boolean> {
  const rows = await db
    .update(settings)
    .set({ value: sql`${settings.value} || ${JSON.stringify({ status: 'stopped', error: 'the demo.setup job was cancelled', step: null })}::jsonb`, updatedAt: new Date() })
    .where(sql`${settings.key} = ${DEMO_STATE_KEY} AND ${settings.value}->>'jobId' = ${jobId} AND ${settings.value}->>'status' IN ('queued', 'running')`)
    .returning({ key: settings.key });
  return rows.length > 0;
}
