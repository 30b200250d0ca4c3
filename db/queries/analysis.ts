/**
 * The `analysis_cache` table: results of `features.analyze` (logit lens,
 * correlations, ablation of one feature with one set of parameters; the
 * encode of one token sequence by an SAE) under a
 * key naming all of them, each with an expiry (ANALYSIS_TTL_HOURS). A result
 * past its expiry is not read, and `system.maintenance` deletes it. The
 * rows go with their SAE.
 */
import { and, eq, gt, lte, sql } from 'drizzle-orm';
import type { AnalysisKind } from '../../models/contracts/features.ts';
import { safeJson } from '../../models/safe-text.ts';
import type { Db } from '../client.ts';
import { analysisCache } from '../schema.ts';
import { BOSS_SCHEMA } from './jobs.ts';

/** The queue of `features.analyze` jobs. */
export const ANALYZE_QUEUE = 'features.analyze';

/**
 * The cache key of an analysis: kind, SAE, feature (none for `encode`) and
 * the parameters in a fixed order (so `?k=5&x=1` and `?x=1&k=5` share an entry).
 */
export function analysisKey(kind: AnalysisKind, saeId: string, index: number | null, params: Record<string, string | number>): string {
  const p = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return `${kind}:${saeId}${index === null ? '' : `:${index}`}${p ? `?${p}` : ''}`;
}

/** A fresh cached result and when it was computed (ms since epoch), or undefined. */
export async function getCachedAnalysis(db: Db, key: string, now = new Date()): Promise<{ result: unknown; computedAt: number } | undefined> {
  const [row] = await db
    .select({ result: analysisCache.result, createdAt: analysisCache.createdAt })
    .from(analysisCache)
    .where(and(eq(analysisCache.key, key), gt(analysisCache.expiresAt, now)));
  return row ? { result: row.result, computedAt: row.createdAt.getTime() } : undefined;
}

/** Stores (or replaces) a result, fresh for `ttlMs`; its strings (token texts) made storable by {@link safeJson} (NUL as ␀). */
export async function putCachedAnalysis(db: Db, e: { key: string; kind: AnalysisKind; saeId: string; featureIndex: number | null; result: unknown; ttlMs: number; now?: Date }): Promise<void> {
  const now = e.now ?? new Date();
  const row = { key: e.key, kind: e.kind, saeId: e.saeId, featureIndex: e.featureIndex, result: safeJson(e.result), createdAt: now, expiresAt: new Date(now.getTime() + e.ttlMs) };
  await db
    .insert(analysisCache)
    .values(row)
    .onConflictDoUpdate({ target: analysisCache.key, set: { result: row.result, createdAt: row.createdAt, expiresAt: row.expiresAt } });
}

/** Deletes results past their expiry; returns how many. */
export async function pruneAnalysisCache(db: Db, now = new Date()): Promise<number> {
  const rows = await db.delete(analysisCache).where(lte(analysisCache.expiresAt, now)).returning({ key: analysisCache.key });
  return rows.length;
}

/** The `features.analyze` job computing `key` that has not finished (the queue is `stately`: at most one waits and one runs per key), or undefined. */
export async function pendingAnalysisJob(db: Db, key: string): Promise<string | undefined> {
  const { rows } = await db.execute<{ id: string }>(
    sql`SELECT id::text AS id FROM ${sql.raw(`${BOSS_SCHEMA}.job`)} WHERE name = ${ANALYZE_QUEUE} AND singleton_key = ${key} AND state < 'completed' ORDER BY created_on DESC LIMIT 1`,
  );
  return rows[0]?.id;
}
