/**
 * The `datasets` table: text datasets imported from a hub repository or an
 * upload, or shipped with Loupe (the built-in demo dataset, registered at
 * start), and tokenized by a `dataset.import` job into `path`.
 *
 * A dataset's live progress is its import job's last progress
 * (`job_progress`, written by the job runner), read here with the row.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { DatasetSettings, DatasetSource, DatasetStatsBody } from '../../models/contracts/datasets.ts';
import type { DatasetProgress } from '../../models/contracts/topics.ts';
import { safeJson } from '../../models/safe-text.ts';
import type { Database, Db } from '../client.ts';
import { datasets, jobProgress } from '../schema.ts';
import { inTransaction, type JobSqlExecutor } from './transaction.ts';

export type DatasetStatus = (typeof datasets.status.enumValues)[number];

/** Statistics stored with a completed dataset: stats.json with the import's counts. */
export type DatasetStoredStats = DatasetStatsBody;

/** A dataset row; times in ms since epoch. */
export interface DatasetRow {
  id: string;
  name: string;
  source: DatasetSource;
  status: DatasetStatus;
  /** shipped with Loupe (source kind `builtin`): cannot be deleted */
  builtin: boolean;
  /** the model whose tokenizer made (or makes) the tokens; null when that model was deleted */
  tokenizerModelId: string | null;
  settings: DatasetSettings;
  /** set once completed */
  stats: DatasetStoredStats | null;
  /** absolute folder of tokens.bin, docs.bin, stats.json and meta.json (complete only once `status` is completed) */
  path: string | null;
  sizeBytes: number | null;
  /** the import job's last progress */
  progress: DatasetProgress | null;
  jobId: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/** Id of the built-in demo dataset: fixed, so that every worker registers the same row. */
export const DEMO_DATASET_ID = '00000000-0000-4000-8000-00000000da7a';

const columns = {
  row: datasets,
  progress: jobProgress.progress,
};

type Joined = { row: typeof datasets.$inferSelect; progress: unknown };

function toRow({ row: r, progress }: Joined): DatasetRow {
  const source = r.source as DatasetSource;
  return {
    id: r.id,
    name: r.name,
    source,
    status: r.status,
    builtin: source.kind === 'builtin',
    tokenizerModelId: r.tokenizerModelId,
    settings: r.settings as DatasetSettings,
    stats: (r.stats as DatasetStoredStats | null) ?? null,
    path: r.path,
    sizeBytes: r.sizeBytes,
    progress: (progress as DatasetProgress | null) ?? null,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt.getTime(),
    updatedAt: r.updatedAt.getTime(),
  };
}

/** The row with its job's progress (job ids are pg-boss UUIDs, stored as text here). */
function selectJoined(db: Db) {
  return db
    .select(columns)
    .from(datasets)
    .leftJoin(jobProgress, sql`${jobProgress.jobId}::text = ${datasets.jobId}`);
}

/** Every dataset: built-in ones first, then newest first. */
export async function listDatasets(db: Db): Promise<DatasetRow[]> {
  const rows = await selectJoined(db).orderBy(desc(sql`(${datasets.source}->>'kind') = 'builtin'`), desc(datasets.createdAt), datasets.id);
  return rows.map(toRow);
}

/** One dataset, or undefined. */
export async function getDataset(db: Db, id: string): Promise<DatasetRow | undefined> {
  const [row] = await selectJoined(db).where(eq(datasets.id, id));
  return row ? toRow(row) : undefined;
}

async function reread(db: Db, row: typeof datasets.$inferSelect | undefined): Promise<DatasetRow | undefined> {
  return row ? getDataset(db, row.id) : undefined;
}

/** What a new dataset starts with. */
export interface NewDataset {
  /** a chosen id (an upload is stored under its id before the row exists); random when omitted */
  id?: string;
  name: string;
  source: DatasetSource;
  settings: DatasetSettings;
  tokenizerModelId: string;
  path: string | null;
}

/** Inserts a queued dataset (its import job is sent next, see {@link setDatasetJob}). */
export async function insertDataset(db: Db, d: NewDataset): Promise<DatasetRow> {
  const [row] = await db
    .insert(datasets)
    .values({ ...(d.id ? { id: d.id } : {}), name: d.name, source: d.source, settings: d.settings, tokenizerModelId: d.tokenizerModelId, path: d.path, status: 'queued' })
    .returning();
  return toRow({ row: row!, progress: null });
}

/** Records the job that fills a dataset. */
export async function setDatasetJob(db: Db, id: string, jobId: string): Promise<DatasetRow | undefined> {
  const [row] = await db.update(datasets).set({ jobId, updatedAt: new Date() }).where(eq(datasets.id, id)).returning();
  return reread(db, row);
}

/** Fields an import updates as it goes. */
export interface DatasetUpdate {
  status?: DatasetStatus;
  settings?: DatasetSettings;
  stats?: DatasetStoredStats | null;
  path?: string | null;
  sizeBytes?: number | null;
  error?: string | null;
}

/**
 * Updates a dataset, only while its status is one of `onlyIf` (when given):
 * an import's late write must not overwrite a cancellation. Returns the row,
 * or undefined when it is gone or in another status.
 */
export async function updateDataset(db: Db, id: string, set: DatasetUpdate, onlyIf?: DatasetStatus[]): Promise<DatasetRow | undefined> {
  const where = onlyIf ? and(eq(datasets.id, id), inArray(datasets.status, onlyIf)) : eq(datasets.id, id);
  // stats hold token texts, the error may quote a file: NUL and lone surrogates made storable (models/safe-text.ts)
  const [row] = await db.update(datasets).set({ ...safeJson(set), updatedAt: new Date() }).where(where).returning();
  return reread(db, row);
}

/** Marks the dataset filled by job `jobId` cancelled, if it has not finished; returns it when it changed. */
export async function cancelDatasetOfJob(db: Db, jobId: string): Promise<DatasetRow | undefined> {
  const [row] = await db
    .update(datasets)
    .set({ status: 'cancelled', updatedAt: new Date() })
    .where(and(eq(datasets.jobId, jobId), inArray(datasets.status, ['queued', 'running'])))
    .returning();
  return reread(db, row);
}

/** Deletes a dataset row; true when it existed. */
export async function deleteDataset(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(datasets).where(eq(datasets.id, id)).returning({ id: datasets.id });
  return rows.length > 0;
}

/** What a process knows about the built-in demo dataset when it registers it. */
export interface DemoDataset {
  name: string;
  /** absolute path of the shipped file */
  file: string;
  /** its folder under DATA_DIR */
  path: string;
  tokenizerModelId: string;
  settings: DatasetSettings;
}

/**
 * Registers the built-in demo dataset ({@link DEMO_DATASET_ID}), or refreshes
 * its name, source and folder. One statement: safe when several workers start
 * at once. Its status is left as it is (an import decides it).
 */
export async function ensureDemoDataset(db: Db, demo: DemoDataset): Promise<DatasetRow> {
  const source: DatasetSource = { kind: 'builtin', path: demo.file };
  await db
    .insert(datasets)
    .values({ id: DEMO_DATASET_ID, name: demo.name, source, settings: demo.settings, tokenizerModelId: demo.tokenizerModelId, path: demo.path, status: 'queued' })
    .onConflictDoUpdate({ target: datasets.id, set: { name: demo.name, source, path: demo.path, updatedAt: sql`now()` } });
  return (await getDataset(db, DEMO_DATASET_ID))!;
}

/**
 * Claims a dataset for a new import job, in one transaction: locks the row,
 * checks that its job is still `expectedJobId` (what the caller saw when it
 * decided an import is needed), sends the job through `send` on the same
 * connection, and records it with status queued. Of several workers
 * registering the demo dataset at once, exactly one sends the job: the
 * others find the job id changed once the lock is theirs.
 *
 * @returns the new job id, or null when the row is gone, another process claimed it first, or `send` created no job
 */
export async function claimDatasetImport(
  database: Database,
  id: string,
  expectedJobId: string | null,
  send: (executor: JobSqlExecutor) => Promise<string | null>,
): Promise<string | null> {
  // An early null leaves nothing written (a row lock, a send that created no job): committing it is rolling it back.
  return inTransaction(database, async ({ db, executor }) => {
    const { rows } = await db.execute<{ job_id: string | null }>(sql`SELECT job_id FROM datasets WHERE id = ${id} FOR UPDATE`);
    if (!rows[0] || rows[0].job_id !== expectedJobId) return null;
    const jobId = await send(executor);
    if (!jobId) return null;
    await db.execute(sql`UPDATE datasets SET status = 'queued', job_id = ${jobId}, error = NULL, stats = NULL, updated_at = now() WHERE id = ${id}`);
    return jobId;
  });
}
