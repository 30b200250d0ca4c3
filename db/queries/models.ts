/**
 * The `models` table: models downloaded from a hub, imported from a folder, or
 * shipped with Loupe (the built-in demo model, registered at start).
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { ModelDtype, ModelSource } from '../../models/contracts/api.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';
import type { Db } from '../client.ts';
import { models } from '../schema.ts';

export type ModelStatus = (typeof models.status.enumValues)[number];

/** A model row; times in ms since epoch. */
export interface ModelRow {
  id: string;
  name: string;
  source: ModelSource;
  status: ModelStatus;
  architecture: string | null;
  config: Record<string, unknown> | null;
  /** absolute folder of its files */
  path: string | null;
  sizeBytes: number | null;
  dtype: ModelDtype;
  progress: ModelProgress | null;
  builtin: boolean;
  jobId: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/** Id of the built-in demo model: fixed, so that every process registers the same row. */
export const DEMO_MODEL_ID = '00000000-0000-4000-8000-00000000d3e0';

function toRow(r: typeof models.$inferSelect): ModelRow {
  return {
    ...r,
    source: r.source as ModelSource,
    config: (r.config as Record<string, unknown> | null) ?? null,
    progress: (r.progress as ModelProgress | null) ?? null,
    createdAt: r.createdAt.getTime(),
    updatedAt: r.updatedAt.getTime(),
  };
}

/** Every model: built-in ones first, then newest first. */
export async function listModels(db: Db): Promise<ModelRow[]> {
  const rows = await db.select().from(models).orderBy(desc(models.builtin), desc(models.createdAt), models.id);
  return rows.map(toRow);
}

/** One model, or undefined. */
export async function getModel(db: Db, id: string): Promise<ModelRow | undefined> {
  const [row] = await db.select().from(models).where(eq(models.id, id));
  return row ? toRow(row) : undefined;
}

/** Inserts a queued model (its download job is sent next, see {@link setModelJob}). */
export async function insertModel(db: Db, m: { name: string; source: ModelSource; dtype: ModelDtype; path: string | null }): Promise<ModelRow> {
  const [row] = await db.insert(models).values({ ...m, status: 'queued' }).returning();
  return toRow(row!);
}

/** Records the job that fills a model. */
export async function setModelJob(db: Db, id: string, jobId: string): Promise<ModelRow | undefined> {
  const [row] = await db.update(models).set({ jobId, updatedAt: new Date() }).where(eq(models.id, id)).returning();
  return row ? toRow(row) : undefined;
}

/** Fields a download updates as it goes. */
export interface ModelUpdate {
  status?: ModelStatus;
  progress?: ModelProgress | null;
  sizeBytes?: number | null;
  architecture?: string | null;
  config?: Record<string, unknown> | null;
  path?: string | null;
  error?: string | null;
}

/**
 * Updates a model, only while its status is one of `onlyIf` (when given): a
 * download's late progress must not overwrite a cancellation. Returns the row,
 * or undefined when it is gone or in another status.
 */
export async function updateModel(db: Db, id: string, set: ModelUpdate, onlyIf?: ModelStatus[]): Promise<ModelRow | undefined> {
  const where = onlyIf ? and(eq(models.id, id), inArray(models.status, onlyIf)) : eq(models.id, id);
  const [row] = await db.update(models).set({ ...set, updatedAt: new Date() }).where(where).returning();
  return row ? toRow(row) : undefined;
}

/** Marks the model filled by job `jobId` cancelled, if it has not finished; returns it when it changed. */
export async function cancelModelOfJob(db: Db, jobId: string): Promise<ModelRow | undefined> {
  const [row] = await db
    .update(models)
    .set({ status: 'cancelled', updatedAt: new Date() })
    .where(and(eq(models.jobId, jobId), inArray(models.status, ['queued', 'running'])))
    .returning();
  return row ? toRow(row) : undefined;
}

/** Deletes a model row; true when it existed. */
export async function deleteModel(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(models).where(eq(models.id, id)).returning({ id: models.id });
  return rows.length > 0;
}

/** What a process knows about the built-in demo model when it registers it. */
export interface DemoModel {
  name: string;
  /** absolute folder (in the repository, not copied) */
  path: string;
  architecture: string;
  config: Record<string, unknown>;
  sizeBytes: number;
}

/**
 * Registers the built-in demo model, or refreshes its path, config and size.
 * One statement keyed by {@link DEMO_MODEL_ID}: safe when several workers and
 * servers start at once.
 */
export async function ensureDemoModel(db: Db, demo: DemoModel): Promise<void> {
  const values = {
    id: DEMO_MODEL_ID,
    name: demo.name,
    source: { kind: 'local', path: demo.path } satisfies ModelSource,
    status: 'completed' as const,
    architecture: demo.architecture,
    config: demo.config,
    path: demo.path,
    sizeBytes: demo.sizeBytes,
    dtype: 'fp32' as const,
    builtin: true,
  };
  await db
    .insert(models)
    .values(values)
    .onConflictDoUpdate({
      target: models.id,
      set: {
        name: values.name,
        source: values.source,
        status: values.status,
        architecture: values.architecture,
        config: values.config,
        path: values.path,
        sizeBytes: values.sizeBytes,
        builtin: true,
        updatedAt: sql`now()`,
      },
    });
}
