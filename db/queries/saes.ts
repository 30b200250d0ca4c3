/**
 * The `saes` table: sparse autoencoders in SAELens layout under their `path`,
 * trained here (`sae.train`, recorded with their training's completion in
 * db/queries/trainings.ts) or imported from a SAELens folder.
 */
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { DEFAULT_PURPOSE } from '../../models/contracts/trainings.ts';
import type { Db } from '../client.ts';
import { models, saeFamilies, saes } from '../schema.ts';

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
  /** its family, version and whether it is the family's active SAE (null: not in a family) */
  family: { id: string; purpose: string; version: number; active: boolean } | null;
  createdAt: number;
}

type Selected = { row: typeof saes.$inferSelect; modelName: string | null; purpose: string | null; activeSaeId: string | null };

function toRow({ row: r, modelName, purpose, activeSaeId }: Selected): SaeRow {
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
    family: r.familyId !== null && purpose !== null ? { id: r.familyId, purpose, version: r.version ?? 1, active: activeSaeId === r.id } : null,
    createdAt: r.createdAt.getTime(),
  };
}

function select(db: Db, where: SQL | undefined) {
  return db
    .select({ row: saes, modelName: models.name, purpose: saeFamilies.purpose, activeSaeId: saeFamilies.activeSaeId })
    .from(saes)
    .leftJoin(models, eq(models.id, saes.modelId))
    .leftJoin(saeFamilies, eq(saeFamilies.id, saes.familyId))
    .where(where);
}

export interface SaeFilter {
  trainingId?: string | undefined;
  modelId?: string | undefined;
  hookPoint?: string | undefined;
  familyId?: string | undefined;
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
      f.familyId ? eq(saes.familyId, f.familyId) : undefined,
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

/** Records an imported SAE in its family (trained ones come with their training's completion). */
export async function insertSae(db: Db, s: Omit<SaeRow, 'createdAt' | 'modelName' | 'family'> & { id?: string }, purpose: string = DEFAULT_PURPOSE): Promise<SaeRow> {
  const [id] = await db.transaction((tx) => insertSaesInFamilies(tx, [s], purpose));
  return (await getSae(db, id!))!;
}

/**
 * Inserts SAEs, each into the family of its model, hook point and `purpose`
 * (made when new): the next version there, and the family's active SAE when
 * it has none. Call inside the transaction that records them; the family's
 * row is locked while its next version is taken, so two SAEs finishing at
 * once get two versions. Returns the ids in order.
 */
export async function insertSaesInFamilies(tx: Db, rows: readonly (typeof saes.$inferInsert)[], purpose: string): Promise<string[]> {
  const ids: string[] = [];
  for (const r of rows) {
    const modelId = r.modelId ?? null;
    await tx.insert(saeFamilies).values({ modelId, hookPoint: r.hookPoint, purpose }).onConflictDoNothing();
    const [family] = await tx
      .select({ id: saeFamilies.id, activeSaeId: saeFamilies.activeSaeId })
      .from(saeFamilies)
      .where(and(sql`${saeFamilies.modelId} IS NOT DISTINCT FROM ${modelId}`, eq(saeFamilies.hookPoint, r.hookPoint), eq(saeFamilies.purpose, purpose)))
      .for('update');
    const [last] = await tx.select({ v: sql<number | null>`max(${saes.version})` }).from(saes).where(eq(saes.familyId, family!.id));
    const [row] = await tx
      .insert(saes)
      .values({ ...r, familyId: family!.id, version: (last?.v ?? 0) + 1 })
      .returning({ id: saes.id });
    if (family!.activeSaeId === null) await tx.update(saeFamilies).set({ activeSaeId: row!.id }).where(eq(saeFamilies.id, family!.id));
    ids.push(row!.id);
  }
  return ids;
}

/** Makes SAE `id` its family's active SAE; false when it has no family. */
export async function setActiveSae(db: Db, id: string): Promise<boolean> {
  const rows = await db.execute(sql`UPDATE ${saeFamilies} SET active_sae_id = ${id} WHERE id = (SELECT family_id FROM ${saes} WHERE id = ${id}) RETURNING id`);
  return rows.rows.length > 0;
}

/** Renames an SAE. */
export async function renameSae(db: Db, id: string, name: string): Promise<void> {
  await db.update(saes).set({ name }).where(eq(saes.id, id));
}

/** A family with its versions, oldest first; times in ms since epoch. */
export interface SaeFamilyRow {
  id: string;
  modelId: string | null;
  modelName: string | null;
  hookPoint: string;
  purpose: string;
  activeSaeId: string | null;
  versions: { saeId: string; version: number; name: string; createdAt: number }[];
  createdAt: number;
}

/** Families of SAEs (filtered by model or hook point), newest first, with their versions. */
export async function listSaeFamilies(db: Db, f: { modelId?: string | undefined; hookPoint?: string | undefined; ids?: readonly string[] } = {}): Promise<SaeFamilyRow[]> {
  const fams = await db
    .select({ f: saeFamilies, modelName: models.name })
    .from(saeFamilies)
    .leftJoin(models, eq(models.id, saeFamilies.modelId))
    .where(
      and(
        f.modelId ? eq(saeFamilies.modelId, f.modelId) : undefined,
        f.hookPoint ? eq(saeFamilies.hookPoint, f.hookPoint) : undefined,
        f.ids ? inArray(saeFamilies.id, [...f.ids]) : undefined,
      ),
    )
    .orderBy(desc(saeFamilies.createdAt), saeFamilies.id);
  if (fams.length === 0) return [];
  const versions = await db
    .select({ familyId: saes.familyId, saeId: saes.id, version: saes.version, name: saes.name, createdAt: saes.createdAt })
    .from(saes)
    .where(inArray(saes.familyId, fams.map((x) => x.f.id)))
    .orderBy(asc(saes.version), asc(saes.createdAt));
  return fams.map(({ f: x, modelName }) => ({
    id: x.id,
    modelId: x.modelId,
    modelName,
    hookPoint: x.hookPoint,
    purpose: x.purpose,
    activeSaeId: x.activeSaeId,
    versions: versions.filter((v) => v.familyId === x.id).map((v) => ({ saeId: v.saeId, version: v.version ?? 1, name: v.name, createdAt: v.createdAt.getTime() })),
    createdAt: x.createdAt.getTime(),
  }));
}

/**
 * The SAE a `sae=` parameter names: an SAE id as it is, or a family id as
 * the family's active SAE. Undefined when it names neither (or a family
 * without an active SAE).
 */
export async function resolveSaeRef(db: Db, ref: string): Promise<SaeRow | undefined> {
  const direct = await getSae(db, ref);
  if (direct) return direct;
  const [fam] = await db.select({ active: saeFamilies.activeSaeId }).from(saeFamilies).where(eq(saeFamilies.id, ref));
  return fam?.active ? getSae(db, fam.active) : undefined;
}

/**
 * Deletes an SAE row (its features go with it); true when it existed. When
 * it was its family's active SAE, the family's newest other version becomes
 * active (a family with versions always has one).
 */
export async function deleteSae(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx.delete(saes).where(eq(saes.id, id)).returning({ id: saes.id, familyId: saes.familyId });
    const familyId = rows[0]?.familyId;
    if (familyId) {
      await tx.execute(sql`
        UPDATE ${saeFamilies} SET active_sae_id = (SELECT id FROM ${saes} WHERE family_id = ${familyId} ORDER BY version DESC LIMIT 1)
        WHERE id = ${familyId} AND active_sae_id IS NULL`);
    }
    return rows.length > 0;
  });
}
