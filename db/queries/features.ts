/**
 * The `features` and `feature_examples` tables: per feature of an SAE its
 * statistics, labels, peak tokens and top examples (written by a discovery),
 * and the user's favourites, notes and labels. Lists are filtered, sorted and
 * paged in PostgreSQL: each sort is `(column, index)` over a
 * `(sae_id, column, index)` index, read forwards or backwards; label search
 * is `ILIKE` over a trigram index (or, for a word, its token ids over the peak
 * tokens), token search `&&` over a GIN index of the
 * peak tokens.
 *
 * A discovery replaces an SAE's features in one transaction
 * ({@link replaceFeatures}), in batches of thousands of rows, each one
 * statement with one JSON parameter; favourites, notes and user labels of
 * the indices it writes are kept.
 */
import { and, asc, desc, eq, gte, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import type { DiscoveryProgress, FeatureListQuery, FeatureSort, LabelSource } from '../../models/contracts/features.ts';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { QUANTILE_RANK_BASE, quantileRank, type ExampleRecord, type FeatureRecord, type TopToken } from '../../models/features/records.ts';
import { safeJson, safeJsonText, safeText } from '../../models/safe-text.ts';
import type { Db } from '../client.ts';
import { analysisCache, discoveries, featureExamples, features, saeFamilies, saes } from '../schema.ts';

export type { ExampleRecord, FeatureRecord, TopToken };

/** A feature of the list. */
export interface FeatureListRow {
  saeId: string;
  index: number;
  label: string | null;
  labelSource: LabelSource | null;
  score: number | null;
  frequency: number;
  maxActivation: number;
  meanActivation: number;
  favourite: boolean;
  hasNotes: boolean;
  topTokens: TopToken[];
}

/** A feature with everything the detail view shows, but token texts (the route adds them with the tokenizer). */
export interface FeatureRow extends FeatureListRow {
  notes: string | null;
  histogram: { edges: number[]; counts: number[] };
  heuristicLabel: string | null;
  heuristicScore: number | null;
  heuristicKind: 'token' | 'after' | 'none' | null;
  llmLabel: string | null;
  peakTokens: number[];
  discoveryId: string | null;
  examples: ExampleRecord[];
  /** examples sampled from the quantile bands of its values, each with its `band`, by band then rank */
  quantiles: ExampleRecord[];
}

const listColumns = {
  saeId: features.saeId,
  index: features.index,
  label: features.label,
  labelSource: features.labelSource,
  score: features.score,
  frequency: features.frequency,
  maxActivation: features.maxActivation,
  meanActivation: features.meanActivation,
  favourite: features.favourite,
  hasNotes: sql<boolean>`coalesce(${features.notes} <> '', false)`,
  topTokens: features.topTokens,
};

function toListRow(r: { [K in keyof typeof listColumns]: unknown }): FeatureListRow {
  return {
    saeId: r.saeId as string,
    index: r.index as number,
    label: r.label as string | null,
    labelSource: r.labelSource as LabelSource | null,
    score: r.score as number | null,
    frequency: r.frequency as number,
    maxActivation: r.maxActivation as number,
    meanActivation: r.meanActivation as number,
    favourite: r.favourite as boolean,
    hasNotes: r.hasNotes as boolean,
    topTokens: (r.topTokens as TopToken[] | null) ?? [],
  };
}

/** ORDER BY of each sort: the column, then the index the same way, so that either direction reads one index. */
function orderOf(sort: FeatureSort): SQL[] {
  const col = { frequency: features.frequency, score: features.score, max: features.maxActivation, index: features.index }[sort.replace(/^-/, '') as 'frequency' | 'score' | 'max' | 'index'];
  const dir = sort.startsWith('-') ? desc : asc;
  return col === features.index ? [dir(features.index)] : [dir(col), dir(features.index)];
}

/** `%`, `_` and `\` of a LIKE pattern taken literally. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** `ARRAY[…]::integer[]` of token ids (integers, written in the SQL text so that the GIN index is used). */
const idArray = (ids: readonly number[]) => sql.raw(`ARRAY[${ids.map((t) => Math.trunc(t)).join(',')}]::integer[]`);

/**
 * The WHERE of a list query; `tokenIds` are the ids the query's `token` names,
 * `wordIds` those of the word its `q` is (resolved by the caller): a label
 * that has `q`, or peak tokens among `wordIds`.
 */
function whereOf(q: Omit<FeatureListQuery, 'sort' | 'limit' | 'offset' | 'token'>, tokenIds: readonly number[] | undefined, wordIds?: readonly number[]): SQL {
  const label = q.q ? sql`${features.label} ILIKE ${`%${escapeLike(q.q)}%`}` : undefined;
  const conds: (SQL | undefined)[] = [
    eq(features.saeId, q.sae),
    label && wordIds?.length ? sql`(${label} OR ${features.peakTokens} && ${idArray(wordIds)})` : label,
    tokenIds ? sql`${features.peakTokens} && ${idArray(tokenIds)}` : undefined,
    q.minFreq != null ? gte(features.frequency, q.minFreq) : undefined,
    q.maxFreq != null ? lte(features.frequency, q.maxFreq) : undefined,
    q.favourite != null ? eq(features.favourite, q.favourite) : undefined,
  ];
  return and(...conds.filter((c): c is SQL => c !== undefined))!;
}

/**
 * A page of an SAE's features and the number of matches. `tokenIds`: the
 * token ids the query's `token` stands for (an empty list matches nothing);
 * undefined when there is no token filter. `wordIds`: the token ids of the
 * word `q` is, whose features the label search also finds.
 */
export async function listFeatures(db: Db, q: FeatureListQuery, tokenIds?: readonly number[], wordIds?: readonly number[]): Promise<{ total: number; items: FeatureListRow[] }> {
  if (tokenIds && tokenIds.length === 0) return { total: 0, items: [] };
  const where = whereOf(q, tokenIds, wordIds);
  const [rows, [count]] = await Promise.all([
    db
      .select(listColumns)
      .from(features)
      .where(where)
      .orderBy(...orderOf(q.sort))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: sql<number>`count(*)::int` }).from(features).where(where),
  ]);
  return { total: count?.n ?? 0, items: rows.map(toListRow) };
}

/** The SQL text and parameters of a list query, for EXPLAIN in tests. */
export function listFeaturesSql(db: Db, q: FeatureListQuery, tokenIds?: readonly number[]): { sql: string; params: unknown[] } {
  return db
    .select(listColumns)
    .from(features)
    .where(whereOf(q, tokenIds))
    .orderBy(...orderOf(q.sort))
    .limit(q.limit)
    .offset(q.offset)
    .toSQL();
}

/** One feature with its examples by rank, or undefined. */
export async function getFeature(db: Db, saeId: string, index: number): Promise<FeatureRow | undefined> {
  const [row] = await db
    .select({ ...listColumns, notes: features.notes, histogram: features.histogram, heuristicLabel: features.heuristicLabel, heuristicScore: features.heuristicScore, heuristicKind: features.heuristicKind, llmLabel: features.llmLabel, peakTokens: features.peakTokens, discoveryId: features.discoveryId })
    .from(features)
    .where(and(eq(features.saeId, saeId), eq(features.index, index)));
  if (!row) return undefined;
  const examples = await db
    .select()
    .from(featureExamples)
    .where(and(eq(featureExamples.saeId, saeId), eq(featureExamples.featureIndex, index)))
    .orderBy(asc(featureExamples.rank));
  return {
    ...toListRow(row),
    notes: row.notes,
    histogram: (row.histogram as FeatureRow['histogram'] | null) ?? { edges: [], counts: [] },
    heuristicLabel: row.heuristicLabel,
    heuristicScore: row.heuristicScore,
    heuristicKind: row.heuristicKind,
    llmLabel: row.llmLabel,
    peakTokens: row.peakTokens,
    discoveryId: row.discoveryId,
    examples: examples.filter((e) => e.rank < QUANTILE_RANK_BASE).map(toExample),
    quantiles: examples
      .filter((e) => e.rank >= QUANTILE_RANK_BASE)
      .map((e) => ({ ...toExample(e), rank: (e.rank - QUANTILE_RANK_BASE) % 100, band: Math.floor((e.rank - QUANTILE_RANK_BASE) / 100) })),
  };
}

/** An example as stored, as the code uses it. */
function toExample(e: typeof featureExamples.$inferSelect): ExampleRecord {
  return {
    rank: e.rank,
    maxValue: e.maxValue,
    start: e.datasetOffset,
    // rows without a stored peak: the first token with the peak value
    position: e.position ?? e.datasetOffset + Math.max(0, e.values.indexOf(e.maxValue)),
    tokens: e.tokens,
    values: e.values,
  };
}

/** Labels of some features of an SAE, by index (for correlation lists). */
export async function featureLabels(db: Db, saeId: string, indices: readonly number[]): Promise<Map<number, string | null>> {
  if (indices.length === 0) return new Map();
  const rows = await db
    .select({ index: features.index, label: features.label })
    .from(features)
    .where(and(eq(features.saeId, saeId), inArray(features.index, [...indices])));
  return new Map(rows.map((r) => [r.index, r.label]));
}

/** Whether an SAE has any features recorded. */
export async function hasFeatures(db: Db, saeId: string): Promise<boolean> {
  const [row] = await db.select({ one: sql<number>`1` }).from(features).where(eq(features.saeId, saeId)).limit(1);
  return row !== undefined;
}

/**
 * A user's edit of a feature: a label (source 'user'; null goes back to the
 * LLM's label, else the heuristic one), favourite, notes. Returns false when
 * there is no such feature.
 */
export async function patchFeature(db: Db, saeId: string, index: number, p: { label?: string | null; favourite?: boolean; notes?: string | null }): Promise<boolean> {
  const set: PgUpdateSetSource<typeof features> = { updatedAt: new Date() };
  if (p.label !== undefined) {
    if (p.label === null) {
      set.label = sql`coalesce(${features.llmLabel}, ${features.heuristicLabel})`;
      set.labelSource = sql`CASE WHEN ${features.llmLabel} IS NOT NULL THEN 'llm' WHEN ${features.heuristicLabel} IS NOT NULL THEN 'heuristic' END`;
    } else {
      set.label = safeText(p.label);
      set.labelSource = 'user';
    }
  }
  if (p.favourite !== undefined) set.favourite = p.favourite;
  if (p.notes !== undefined) set.notes = p.notes === '' || p.notes === null ? null : safeText(p.notes);
  const rows = await db
    .update(features)
    .set(set)
    .where(and(eq(features.saeId, saeId), eq(features.index, index)))
    .returning({ index: features.index });
  return rows.length > 0;
}

/** Records an LLM label of one feature; it becomes the shown label unless a user's label is there. False when no such feature. */
export async function setLlmLabel(db: Db, saeId: string, index: number, answer: string): Promise<boolean> {
  // an LLM's answer may hold anything, NUL included
  const label = safeText(answer);
  const rows = await db
    .update(features)
    .set({
      llmLabel: label,
      label: sql`CASE WHEN ${features.labelSource} = 'user' THEN ${features.label} ELSE ${label} END`,
      labelSource: sql`CASE WHEN ${features.labelSource} = 'user' THEN 'user' ELSE 'llm' END`,
      updatedAt: new Date(),
    })
    .where(and(eq(features.saeId, saeId), eq(features.index, index)))
    .returning({ index: features.index });
  return rows.length > 0;
}

/** Rows an INSERT of one JSON batch takes (a few MB of JSON at most). */
const FEATURE_BATCH = 1000;
const EXAMPLE_BATCH = 4000;

/**
 * Completes discovery `discoveryId` and replaces the SAE's features and
 * examples with `records`, in one transaction: before it the old features
 * are all there, after it the new ones, never a mix. Favourites, notes and
 * user labels of the indices written are kept; the SAE's cached analyses
 * are dropped. Nothing is written (false)
 * when the discovery is not running any more (cancelled or deleted meanwhile).
 * Labels, token texts and the warning are made storable (models/safe-text.ts).
 * `onBatch` is told the features written so far.
 */
export async function replaceFeatures(
  db: Db,
  discoveryId: string,
  saeId: string,
  records: readonly FeatureRecord[],
  done: { progress: DiscoveryProgress; rows: number; warning: string | null },
  onBatch?: (written: number) => void,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Locks the row: a concurrent cancel waits for this transaction, or this one sees it cancelled.
    const [run] = await tx.select({ status: discoveries.status }).from(discoveries).where(eq(discoveries.id, discoveryId)).for('update');
    if (run?.status !== 'running') return false;
    const kept = await tx
      .select({ index: features.index, favourite: features.favourite, notes: features.notes, label: features.label, labelSource: features.labelSource })
      .from(features)
      .where(and(eq(features.saeId, saeId), sql`(${features.favourite} OR ${features.notes} IS NOT NULL OR ${features.labelSource} = 'user')`));
    const user = new Map(kept.map((k) => [k.index, k]));
    // examples go with their features (ON DELETE CASCADE)
    await tx.delete(features).where(eq(features.saeId, saeId));
    // Each batch goes as one JSON parameter, expanded by PostgreSQL (json_to_recordset): a multi-row INSERT
    // with a parameter a value spends most of its time binding them (2048 features × 10 examples: 2.2 s → 1 s).
    for (let i = 0; i < records.length; i += FEATURE_BATCH) {
      const batch = records.slice(i, i + FEATURE_BATCH).map((r) => {
        const u = user.get(r.index);
        const userLabel = u?.labelSource === 'user' ? u.label : null;
        return {
          i: r.index,
          fq: r.frequency,
          mx: r.maxActivation,
          mn: r.meanActivation,
          h: r.histogram,
          l: userLabel ?? r.llmLabel ?? r.heuristicLabel,
          ls: userLabel ? 'user' : r.llmLabel ? 'llm' : 'heuristic',
          sc: r.heuristicScore,
          hl: r.heuristicLabel,
          hk: r.heuristicKind,
          ll: r.llmLabel,
          pt: r.peakTokens,
          tt: r.topTokens,
          fav: u?.favourite ?? false,
          n: u?.notes ?? null,
        };
      });
      await tx.execute(sql`
        INSERT INTO ${features} (sae_id, index, discovery_id, frequency, max_activation, mean_activation, histogram, label, label_source, score,
          heuristic_label, heuristic_score, heuristic_kind, llm_label, peak_tokens, top_tokens, favourite, notes, updated_at)
        SELECT ${saeId}::uuid, r.i, ${discoveryId}::uuid, r.fq, r.mx, r.mn, r.h, r.l, r.ls, r.sc, r.hl, r.sc, r.hk, r.ll, r.pt, r.tt, r.fav, r.n, now()
        FROM json_to_recordset(${safeJsonText(batch)}::json)
          AS r(i integer, fq real, mx real, mn real, h jsonb, l text, ls text, sc real, hl text, hk text, ll text, pt integer[], tt jsonb, fav boolean, n text)`);
      onBatch?.(i + batch.length);
    }
    let batch: { f: number; k: number; m: number; t: number[]; v: number[]; s: number; p: number }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await tx.execute(sql`
        INSERT INTO ${featureExamples} (sae_id, feature_index, rank, max_value, tokens, "values", dataset_offset, position)
        SELECT ${saeId}::uuid, r.f, r.k, r.m, r.t, r.v, r.s, r.p
        FROM json_to_recordset(${JSON.stringify(batch)}::json) AS r(f integer, k smallint, m real, t integer[], v real[], s bigint, p bigint)`);
      batch = [];
    };
    for (const r of records) {
      // the quantile samples after the top examples, ranked from QUANTILE_RANK_BASE (records.ts)
      const all = [...r.examples.map((e) => ({ e, k: e.rank })), ...(r.quantiles ?? []).map((e) => ({ e, k: quantileRank(e.band ?? 0, e.rank) }))];
      for (const { e, k } of all) {
        batch.push({ f: r.index, k, m: e.maxValue, t: e.tokens, v: e.values, s: e.start, p: e.position });
        if (batch.length >= EXAMPLE_BATCH) await flush();
      }
    }
    await flush();
    // ablations ran on the old top examples
    await tx.delete(analysisCache).where(eq(analysisCache.saeId, saeId));
    await tx
      .update(discoveries)
      .set({ status: 'completed', progress: safeJson(done.progress), rows: done.rows, warning: done.warning === null ? null : safeText(done.warning), error: null, updatedAt: new Date() })
      .where(eq(discoveries.id, discoveryId));
    return true;
  });
}

/** The SAE a feature list needs to exist (the route's 404), with its model: `saeId` names an SAE, or a family (its active SAE). */
export async function saeOfFeatures(db: Db, saeId: string): Promise<{ id: string; name: string; hookPoint: string; modelId: string | null; dSae: number } | undefined> {
  // an SAE's id, or a family's (its active SAE)
  const [row] = await db
    .select({ id: saes.id, name: saes.name, hookPoint: saes.hookPoint, modelId: saes.modelId, dSae: saes.dSae })
    .from(saes)
    .where(or(eq(saes.id, saeId), eq(saes.id, db.select({ id: saeFamilies.activeSaeId }).from(saeFamilies).where(eq(saeFamilies.id, saeId)))))
    .limit(1);
  return row;
}
