/**
 * The `saes` table: sparse autoencoders in SAELens layout under their `path`,
 * trained here (`sae.train`, recorded with their training's completion in
 * db/queries/trainings.ts) or imported from a SAELens folder.
 */
import { and, desc, eq, type SQL } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { models, saes } from '../schema.ts';

/** An SAE row; times in ms since epoch. */
export interface SaeRow {
  id: string;
  name: string;
  trainingId: string | null;
  modelId: string | null;
  modelName: string | null;
  hookPoint: string;
  architecture: (typeof saes.architecture.enumValues)[number];
  dIn: number;
  dSae: number;
  cfg: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
  path: string;
  createdAt: number;
}

function toRow({ row: r, modelName }: { row: typeof saes.$inferSelect; modelName: string | null }): SaeRow {
  return {
    id: r.id,
    name: r.name,
    trainingId: r.trainingId,
    modelId: r.modelId,
    modelName,
    hookPoint: r.hookPoint,
    architecture: r.architecture,
    dIn: r.dIn,
    dSae: r.dSae,
    cfg: r.cfg as Record<string, unknown>,
    metrics: (r.metrics as Record<string, unknown> | null) ?? null,
    path: r.path,
    createdAt: r.createdAt.getTime(),
  };
}

function select(db: Db, where: SQL | undefined) {
  return db.select({ row: saes, modelName: models.name }).from(saes).leftJoin(models, eq(models.id, saes.modelId)).where(where);
}

export interface SaeFilter {
  trainingId?: string | undefined;
  modelId?: string | undefined;
  hookPoint?: string | undefined;
  limit?: number | undefined;
}

/** SAEs, newest first. */
export async function listSaes(db: Db, f: SaeFilter = {}): Promise<SaeRow[]> {
  const rows = await select(
    db,
    and(
      f.trainingId ? eq(saes.trainingId, f.trainingId) : undefined,
      f.modelId ? eq(saes.modelId, f.modelId) : undefined,
      f.hookPoint ? eq(saes.hookPoint, f.hookPoint) : undefined,
    ),
  )
    .orderBy(desc(saes.createdAt), saes.hookPoint, saes.id)
    .limit(f.limit ?? 100);
  return rows.map(toRow);
}

/** One SAE, or undefined. */
export async function getSae(db: Db, id: string): Promise<SaeRow | undefined> {
  const [row] = await select(db, eq(saes.id, id));
  return row ? toRow(row) : undefined;
}

/** Records an SAE (an import; trained ones come with their training's completion). */
export async function insertSae(db: Db, s: Omit<SaeRow, 'createdAt' | 'modelName'> & { id?: string }): Promise<SaeRow> {
  const [row] = await db.insert(saes).values(s).returning({ id: saes.id });
  return (await getSae(db, row!.id))!;
}

/** Deletes an SAE row (its features go with it); true when it existed. */
export async function deleteSae(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(saes).where(eq(saes.id, id)).returning({ id: saes.id });
  return rows.length > 0;
}
