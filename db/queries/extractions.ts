/**
 * The `extractions` table: activation extraction runs (the history, with the
 * settings each ran with), filled by `activations.extract` jobs into
 * `DATA_DIR/activations/<id>/`. Rows carry their model's and dataset's names
 * for the history list.
 */
import { and, desc, eq, inArray, type SQL } from 'drizzle-orm';
import type { JobDevice } from '../../models/contracts/device.ts';
import type { ExtractionSettings, HookStatsSummary } from '../../models/contracts/extractions.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import type { Db } from '../client.ts';
import { datasets, extractions, models } from '../schema.ts';

export type ExtractionStatus = (typeof extractions.status.enumValues)[number];

/** An extraction row; times in ms since epoch. */
export interface ExtractionRow {
  id: string;
  modelId: string;
  modelName: string | null;
  datasetId: string;
  datasetName: string | null;
  hookPoints: string[];
  settings: ExtractionSettings;
  status: ExtractionStatus;
  progress: ExtractionProgress | null;
  /** where it ran ({model}), once its job knew */
  device: JobDevice | null;
  /** per hook, once completed */
  stats: Record<string, HookStatsSummary> | null;
  /** absolute folder of the store, once the job started */
  path: string | null;
  jobId: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

const columns = { row: extractions, modelName: models.name, datasetName: datasets.name };

function toRow({ row: r, modelName, datasetName }: { row: typeof extractions.$inferSelect; modelName: string | null; datasetName: string | null }): ExtractionRow {
  return {
    id: r.id,
    modelId: r.modelId,
    modelName,
    datasetId: r.datasetId,
    datasetName,
    hookPoints: r.hookPoints,
    settings: r.settings as ExtractionSettings,
    status: r.status,
    progress: (r.progress as ExtractionProgress | null) ?? null,
    device: (r.device as JobDevice | null) ?? null,
    stats: (r.stats as Record<string, HookStatsSummary> | null) ?? null,
    path: r.path,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt.getTime(),
    updatedAt: r.updatedAt.getTime(),
  };
}

function select(db: Db, where: SQL | undefined) {
  return db
    .select(columns)
    .from(extractions)
    .leftJoin(models, eq(models.id, extractions.modelId))
    .leftJoin(datasets, eq(datasets.id, extractions.datasetId))
    .where(where);
}

/** Filters of the history. */
export interface ExtractionFilter {
  modelId?: string | undefined;
  datasetId?: string | undefined;
  status?: ExtractionStatus | undefined;
  limit?: number | undefined;
}

/** Extractions, newest first. */
export async function listExtractions(db: Db, f: ExtractionFilter = {}): Promise<ExtractionRow[]> {
  const rows = await select(
    db,
    and(
      f.modelId ? eq(extractions.modelId, f.modelId) : undefined,
      f.datasetId ? eq(extractions.datasetId, f.datasetId) : undefined,
      f.status ? eq(extractions.status, f.status) : undefined,
    ),
  )
    .orderBy(desc(extractions.createdAt), extractions.id)
    .limit(f.limit ?? 100);
  return rows.map(toRow);
}

/** One extraction, or undefined. */
export async function getExtraction(db: Db, id: string): Promise<ExtractionRow | undefined> {
  const [row] = await select(db, eq(extractions.id, id));
  return row ? toRow(row) : undefined;
}

/** Inserts a queued extraction (its job is sent next, see {@link setExtractionJob}). */
export async function insertExtraction(db: Db, e: { modelId: string; datasetId: string; hookPoints: string[]; settings: ExtractionSettings }): Promise<ExtractionRow> {
  const [row] = await db.insert(extractions).values({ ...e, status: 'queued' }).returning({ id: extractions.id });
  return (await getExtraction(db, row!.id))!;
}

/** Records the job that runs an extraction. */
export async function setExtractionJob(db: Db, id: string, jobId: string): Promise<ExtractionRow | undefined> {
  const [row] = await db.update(extractions).set({ jobId, updatedAt: new Date() }).where(eq(extractions.id, id)).returning({ id: extractions.id });
  return row ? getExtraction(db, row.id) : undefined;
}

/** Fields a job updates as it goes. */
export interface ExtractionUpdate {
  status?: ExtractionStatus;
  progress?: ExtractionProgress | null;
  device?: JobDevice | null;
  stats?: Record<string, HookStatsSummary> | null;
  path?: string | null;
  error?: string | null;
}

/**
 * Updates an extraction, only while its status is one of `onlyIf` (when
 * given): a late progress write must not overwrite a cancellation. Returns
 * true when a row changed.
 */
export async function updateExtraction(db: Db, id: string, set: ExtractionUpdate, onlyIf?: ExtractionStatus[]): Promise<boolean> {
  const where = onlyIf ? and(eq(extractions.id, id), inArray(extractions.status, onlyIf)) : eq(extractions.id, id);
  const rows = await db.update(extractions).set({ ...set, updatedAt: new Date() }).where(where).returning({ id: extractions.id });
  return rows.length > 0;
}

/** Marks the extraction run by job `jobId` cancelled, if it has not finished; returns it when it changed. */
export async function cancelExtractionOfJob(db: Db, jobId: string): Promise<ExtractionRow | undefined> {
  const [row] = await db
    .update(extractions)
    .set({ status: 'cancelled', updatedAt: new Date() })
    .where(and(eq(extractions.jobId, jobId), inArray(extractions.status, ['queued', 'running'])))
    .returning({ id: extractions.id });
  return row ? getExtraction(db, row.id) : undefined;
}

/** Deletes an extraction row; true when it existed. */
export async function deleteExtraction(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(extractions).where(eq(extractions.id, id)).returning({ id: extractions.id });
  return rows.length > 0;
}
