/**
 * The `discoveries` table: feature discovery runs of an SAE over an
 * extraction's activations, or over a dataset's text through its model
 * (`features.discover`). A row carries its status,
 * last progress and settings; its completion writes the SAE's features in the
 * same transaction (db/queries/features.ts {@link replaceFeatures}).
 */
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { JobDevice } from '../../models/contracts/device.ts';
import type { Discovery, DiscoveryProgress, DiscoverySettings, DiscoveryStatus, DiscoveryText } from '../../models/contracts/features.ts';
import { safeJson } from '../../models/safe-text.ts';
import type { Db } from '../client.ts';
import { discoveries, extractions, models, saes, trainings } from '../schema.ts';

/** The queue of `features.discover` jobs. */
export const DISCOVER_QUEUE = 'features.discover';

/** A discovery row, as the API shows it (times in ms since epoch). */
export type DiscoveryRow = Discovery;

function toRow(r: typeof discoveries.$inferSelect): DiscoveryRow {
  return {
    id: r.id,
    saeId: r.saeId,
    source: r.text ? 'text' : 'extraction',
    extractionId: r.extractionId,
    datasetId: r.datasetId,
    text: (r.text as DiscoveryText | null) ?? null,
    status: r.status,
    progress: (r.progress as DiscoveryProgress | null) ?? null,
    device: (r.device as JobDevice | null) ?? null,
    settings: r.settings as DiscoverySettings,
    rows: r.rows,
    error: r.error,
    warning: r.warning,
    jobId: r.jobId,
    createdAt: r.createdAt.getTime(),
    updatedAt: r.updatedAt.getTime(),
  };
}

/** Discoveries, newest first, of one SAE or all. */
export async function listDiscoveries(db: Db, f: { saeId?: string | undefined; limit?: number | undefined } = {}): Promise<DiscoveryRow[]> {
  const where: SQL | undefined = f.saeId ? eq(discoveries.saeId, f.saeId) : undefined;
  const rows = await db
    .select()
    .from(discoveries)
    .where(where)
    .orderBy(desc(discoveries.createdAt), discoveries.id)
    .limit(f.limit ?? 100);
  return rows.map(toRow);
}

/** One discovery, or undefined. */
export async function getDiscovery(db: Db, id: string): Promise<DiscoveryRow | undefined> {
  const [row] = await db.select().from(discoveries).where(eq(discoveries.id, id));
  return row ? toRow(row) : undefined;
}

/** Inserts a queued discovery (its job is sent next): over an extraction, or over a dataset's text with `text` settings. */
export async function insertDiscovery(db: Db, d: { saeId: string; settings: DiscoverySettings } & ({ extractionId: string } | { datasetId: string; text: DiscoveryText })): Promise<DiscoveryRow> {
  const source = 'extractionId' in d ? { extractionId: d.extractionId } : { datasetId: d.datasetId, text: d.text };
  const [row] = await db.insert(discoveries).values({ saeId: d.saeId, ...source, settings: d.settings, status: 'queued' }).returning();
  return toRow(row!);
}

/** Fields the job and the routes update. */
export interface DiscoveryUpdate {
  status?: DiscoveryStatus;
  progress?: DiscoveryProgress | null;
  device?: JobDevice | null;
  rows?: number | null;
  jobId?: string | null;
  error?: string | null;
  warning?: string | null;
}

/**
 * Updates a discovery, only while its status is one of `onlyIf` (when
 * given): a late progress write must not overwrite a cancellation. The error
 * and warning (which may quote an LLM or a file) are made storable
 * (models/safe-text.ts). Returns
 * the row when it changed.
 */
export async function updateDiscovery(db: Db, id: string, set: DiscoveryUpdate, onlyIf?: DiscoveryStatus[]): Promise<DiscoveryRow | undefined> {
  const where = onlyIf ? and(eq(discoveries.id, id), inArray(discoveries.status, onlyIf)) : eq(discoveries.id, id);
  const [row] = await db
    .update(discoveries)
    .set({ ...safeJson(set), updatedAt: new Date() })
    .where(where)
    .returning();
  return row ? toRow(row) : undefined;
}

/** Marks the discovery run by job `jobId` cancelled, if it is queued or running; returns it when it changed. */
export async function cancelDiscoveryOfJob(db: Db, jobId: string): Promise<DiscoveryRow | undefined> {
  const [row] = await db
    .update(discoveries)
    .set({ status: 'cancelled', updatedAt: new Date() })
    .where(and(eq(discoveries.jobId, jobId), inArray(discoveries.status, ['queued', 'running'])))
    .returning();
  return row ? toRow(row) : undefined;
}

/** Deletes a discovery row (the features it wrote stay); true when it existed. */
export async function deleteDiscovery(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(discoveries).where(eq(discoveries.id, id)).returning({ id: discoveries.id });
  return rows.length > 0;
}

/**
 * The extraction whose activations describe an SAE: the one of its latest
 * completed discovery, else the one its training ran on; undefined when
 * neither is there any more.
 */
export async function extractionOfSae(db: Db, saeId: string): Promise<string | undefined> {
  const { rows } = await db.execute<{ id: string }>(sql`
    SELECT id::text AS id FROM (
      (SELECT d.extraction_id AS id, 0 AS pref, d.created_at FROM ${discoveries} d
        WHERE d.sae_id = ${saeId} AND d.status = 'completed' AND d.extraction_id IS NOT NULL ORDER BY d.created_at DESC LIMIT 1)
      UNION ALL
      (SELECT t.extraction_id AS id, 1 AS pref, t.created_at FROM ${saes} s JOIN ${trainings} t ON t.id = s.training_id WHERE s.id = ${saeId})
    ) c ORDER BY pref LIMIT 1`);
  return rows[0]?.id;
}

/**
 * The model (id and folder) whose tokenizer and graph go with an SAE: its
 * own model, else the model of {@link extractionOfSae}'s extraction;
 * undefined when neither is there.
 */
export async function modelOfSae(db: Db, saeId: string): Promise<{ id: string; path: string } | undefined> {
  const { rows } = await db.execute<{ id: string; path: string }>(sql`
    SELECT m.id::text AS id, m.path FROM ${saes} s JOIN ${models} m ON m.id = s.model_id WHERE s.id = ${saeId} AND m.path IS NOT NULL`);
  if (rows[0]) return rows[0];
  const extractionId = await extractionOfSae(db, saeId);
  if (!extractionId) return undefined;
  const via = await db.execute<{ id: string; path: string }>(sql`
    SELECT m.id::text AS id, m.path FROM ${extractions} e JOIN ${models} m ON m.id = e.model_id WHERE e.id = ${extractionId} AND m.path IS NOT NULL`);
  return via.rows[0];
}

/** The folder of {@link modelOfSae}. */
export async function modelDirOfSae(db: Db, saeId: string): Promise<string | undefined> {
  return (await modelOfSae(db, saeId))?.path;
}
