/**
 * The `trainings` and `training_metrics` tables: SAE training runs (one SAE
 * per hook point), filled by `sae.train` jobs into `DATA_DIR/saes/<id>/`, and
 * their metric history. `trainings.config` holds `{hookPoints, config}`; rows
 * carry their extraction's model and dataset names for the history list.
 *
 * A metric point is one row per (training, hook, step) whose `values` hold
 * `train` (training metrics) and/or `eval` (an evaluation); a re-reported
 * step (a resumed run recomputing the steps after its last checkpoint)
 * overwrites the keys it reports, so the history never has a duplicate.
 */
import { and, asc, desc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { JobDevice } from '../../models/contracts/device.ts';
import { DEFAULT_PURPOSE, type EvalValues, type MetricPoint, type TrainConfigResolved, type TrainingProgress, type TrainMetricValues } from '../../models/contracts/trainings.ts';
import type { Db } from '../client.ts';
import { datasets, extractions, models, saes, trainingMetrics, trainings } from '../schema.ts';
import { BOSS_SCHEMA } from './jobs.ts';
import { insertSaesInFamilies } from './saes.ts';

export type TrainingStatus = (typeof trainings.status.enumValues)[number];
export type TrainingControl = NonNullable<(typeof trainings.$inferSelect)['control']>;

/** The queue of `sae.train` jobs. */
export const TRAIN_QUEUE = 'sae.train';

/** A training row; times in ms since epoch. */
export interface TrainingRow {
  id: string;
  name: string;
  extractionId: string;
  modelId: string | null;
  modelName: string | null;
  datasetName: string | null;
  hookPoints: string[];
  config: TrainConfigResolved;
  /** what its SAEs are for: their family's purpose */
  purpose: string;
  status: TrainingStatus;
  control: TrainingControl | null;
  progress: TrainingProgress | null;
  /** where it ran ({sae, model}), once its job knew */
  device: JobDevice | null;
  jobId: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** What `trainings.config` holds. */
interface StoredConfig {
  hookPoints: string[];
  config: TrainConfigResolved;
}

const columns = { row: trainings, modelId: extractions.modelId, modelName: models.name, datasetName: datasets.name };

function toRow({ row: r, modelId, modelName, datasetName }: { row: typeof trainings.$inferSelect; modelId: string | null; modelName: string | null; datasetName: string | null }): TrainingRow {
  const stored = r.config as StoredConfig;
  return {
    id: r.id,
    name: r.name,
    extractionId: r.extractionId,
    modelId,
    modelName,
    datasetName,
    hookPoints: stored.hookPoints,
    config: stored.config,
    purpose: r.purpose ?? DEFAULT_PURPOSE,
    status: r.status,
    control: r.control ?? null,
    progress: (r.progress as TrainingProgress | null) ?? null,
    device: (r.device as JobDevice | null) ?? null,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt.getTime(),
    updatedAt: r.updatedAt.getTime(),
    startedAt: r.startedAt?.getTime() ?? null,
    finishedAt: r.finishedAt?.getTime() ?? null,
  };
}

function select(db: Db, where: SQL | undefined) {
  return db
    .select(columns)
    .from(trainings)
    .leftJoin(extractions, eq(extractions.id, trainings.extractionId))
    .leftJoin(models, eq(models.id, extractions.modelId))
    .leftJoin(datasets, eq(datasets.id, extractions.datasetId))
    .where(where);
}

/** Filters of the history. */
export interface TrainingFilter {
  extractionId?: string | undefined;
  status?: TrainingStatus | undefined;
  limit?: number | undefined;
}

/** Trainings, newest first. */
export async function listTrainings(db: Db, f: TrainingFilter = {}): Promise<TrainingRow[]> {
  const rows = await select(db, and(f.extractionId ? eq(trainings.extractionId, f.extractionId) : undefined, f.status ? eq(trainings.status, f.status) : undefined))
    .orderBy(desc(trainings.createdAt), trainings.id)
    .limit(f.limit ?? 100);
  return rows.map(toRow);
}

/** One training, or undefined. */
export async function getTraining(db: Db, id: string): Promise<TrainingRow | undefined> {
  const [row] = await select(db, eq(trainings.id, id));
  return row ? toRow(row) : undefined;
}

/** The trainings of `ids` that exist, in no particular order (one query). */
export async function getTrainings(db: Db, ids: readonly string[]): Promise<TrainingRow[]> {
  if (ids.length === 0) return [];
  const rows = await select(db, inArray(trainings.id, [...ids]));
  return rows.map(toRow);
}

/** Inserts a queued training (its job is sent next, see {@link setTrainingJob}). */
export async function insertTraining(db: Db, t: { name: string; extractionId: string; hookPoints: string[]; config: TrainConfigResolved; purpose?: string | null | undefined }): Promise<TrainingRow> {
  const config: StoredConfig = { hookPoints: t.hookPoints, config: t.config };
  const [row] = await db.insert(trainings).values({ name: t.name, extractionId: t.extractionId, config, purpose: t.purpose ?? null, status: 'queued' }).returning({ id: trainings.id });
  return (await getTraining(db, row!.id))!;
}

/** Fields the job and the routes update. */
export interface TrainingUpdate {
  status?: TrainingStatus;
  control?: TrainingControl | null;
  progress?: TrainingProgress | null;
  device?: JobDevice | null;
  jobId?: string | null;
  error?: string | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
}

/**
 * Updates a training, only while its status is one of `onlyIf` (when given):
 * a late progress write must not overwrite a pause or a cancellation.
 * Returns the row when it changed.
 */
export async function updateTraining(db: Db, id: string, set: TrainingUpdate, onlyIf?: TrainingStatus[]): Promise<TrainingRow | undefined> {
  const where = onlyIf ? and(eq(trainings.id, id), inArray(trainings.status, onlyIf)) : eq(trainings.id, id);
  const [row] = await db.update(trainings).set({ ...set, updatedAt: new Date() }).where(where).returning({ id: trainings.id });
  return row ? getTraining(db, row.id) : undefined;
}

/** Records the job that runs a training (and makes it queued, clearing a previous error). */
export async function setTrainingJob(db: Db, id: string, jobId: string): Promise<TrainingRow | undefined> {
  return updateTraining(db, id, { jobId });
}

/** Marks the training run by job `jobId` cancelled, if it is queued or running; returns it when it changed. */
export async function cancelTrainingOfJob(db: Db, jobId: string): Promise<TrainingRow | undefined> {
  const [row] = await db
    .update(trainings)
    .set({ status: 'cancelled', control: null, finishedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(trainings.jobId, jobId), inArray(trainings.status, ['queued', 'running'])))
    .returning({ id: trainings.id });
  return row ? getTraining(db, row.id) : undefined;
}

/** The pause or stop asked for a training, read by its job between steps (null: none, or no such training). */
export async function getTrainingControl(db: Db, id: string): Promise<{ status: TrainingStatus; control: TrainingControl | null } | undefined> {
  const [row] = await db.select({ status: trainings.status, control: trainings.control }).from(trainings).where(eq(trainings.id, id));
  return row ? { status: row.status, control: row.control ?? null } : undefined;
}

/** Deletes a training row (its metrics go with it; its SAEs stay, unlinked); true when it existed. */
export async function deleteTraining(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(trainings).where(eq(trainings.id, id)).returning({ id: trainings.id });
  return rows.length > 0;
}

/**
 * Places of queued `sae.train` jobs in their queue, in the order pg-boss
 * hands them out (priority, then age): 1 for the next one. Jobs that are not
 * waiting are missing from the map.
 */
export async function queuePositions(db: Db): Promise<Map<string, number>> {
  const { rows } = await db.execute<{ id: string; pos: string }>(sql`
    SELECT id::text AS id, row_number() OVER (ORDER BY priority DESC, created_on, id) AS pos
    FROM ${sql.raw(`${BOSS_SCHEMA}.job`)} WHERE name = ${TRAIN_QUEUE} AND state IN ('created', 'retry')`);
  return new Map(rows.map((r) => [r.id, Number(r.pos)]));
}

// ---------------------------------------------------------------------------
// Metric history

/** One metric point to record: training metrics and/or an evaluation of one hook at one step. */
export interface MetricRecord {
  hook: string;
  step: number;
  tokens: number;
  train?: TrainMetricValues;
  eval?: EvalValues;
}

/** Records metric points, overwriting the keys a point at the same (hook, step) had. */
export async function upsertMetrics(db: Db, trainingId: string, points: readonly MetricRecord[]): Promise<void> {
  if (points.length === 0) return;
  const now = new Date();
  await db
    .insert(trainingMetrics)
    .values(
      points.map((p) => ({
        trainingId,
        hookPoint: p.hook,
        step: p.step,
        tokens: p.tokens,
        ts: now,
        values: { ...(p.train ? { train: p.train } : {}), ...(p.eval ? { eval: p.eval } : {}) },
      })),
    )
    .onConflictDoUpdate({
      target: [trainingMetrics.trainingId, trainingMetrics.hookPoint, trainingMetrics.step],
      set: { tokens: sql`excluded.tokens`, ts: sql`excluded.ts`, values: sql`${trainingMetrics.values} || excluded.values` },
    });
}

type MetricRow = typeof trainingMetrics.$inferSelect;

function toPoint(r: Pick<MetricRow, 'hookPoint' | 'step' | 'tokens' | 'ts' | 'values'>): MetricPoint {
  const v = r.values as { train?: TrainMetricValues; eval?: EvalValues };
  return { hook: r.hookPoint, step: r.step, tokens: r.tokens, ts: r.ts.getTime(), train: v.train ?? null, eval: v.eval ?? null };
}

/**
 * A page of the metric history by step, then hook: the points after step
 * `after` (of one hook, or all), at most `limit`, cut at a whole step.
 * `next` is the `after` of the next page, null at the end.
 */
export async function listMetrics(db: Db, trainingId: string, q: { hook?: string | undefined; after: number; limit: number }): Promise<{ points: MetricPoint[]; next: number | null }> {
  const where = and(eq(trainingMetrics.trainingId, trainingId), gt(trainingMetrics.step, q.after), q.hook ? eq(trainingMetrics.hookPoint, q.hook) : undefined);
  const rows = await db
    .select()
    .from(trainingMetrics)
    .where(where)
    .orderBy(asc(trainingMetrics.step), asc(trainingMetrics.hookPoint))
    .limit(q.limit + 1);
  if (rows.length <= q.limit) return { points: rows.map(toPoint), next: null };
  let page = rows.slice(0, q.limit);
  const lastStep = page.at(-1)!.step;
  // a page never ends inside a step (whose other hooks would be skipped by the next page's `after`), unless one step fills it
  if (rows[q.limit]!.step === lastStep && page[0]!.step !== lastStep) page = page.filter((r) => r.step !== lastStep);
  return { points: page.map(toPoint), next: page.at(-1)!.step };
}

/** A metric point as a chart reads it: an evaluation without its density histogram. */
export interface CurvePoint {
  hook: string;
  step: number;
  tokens: number;
  train: TrainMetricValues | null;
  eval: Omit<EvalValues, 'density'> | null;
}

/**
 * Every metric point of a training in one query, by hook then step, for
 * curves and final values: evaluations come without their density
 * histograms (the bulk of a point, and drawn by no curve).
 */
export async function listCurvePoints(db: Db, trainingId: string): Promise<CurvePoint[]> {
  const rows = await db
    .select({
      hook: trainingMetrics.hookPoint,
      step: trainingMetrics.step,
      tokens: trainingMetrics.tokens,
      train: sql<TrainMetricValues | null>`${trainingMetrics.values} -> 'train'`,
      eval: sql<Omit<EvalValues, 'density'> | null>`(${trainingMetrics.values} -> 'eval') - 'density'`,
    })
    .from(trainingMetrics)
    .where(eq(trainingMetrics.trainingId, trainingId))
    .orderBy(asc(trainingMetrics.hookPoint), asc(trainingMetrics.step));
  return rows.map((r) => ({ hook: r.hook, step: r.step, tokens: Number(r.tokens), train: r.train ?? null, eval: r.eval ?? null }));
}

/** Per hook of a training, its latest point with training metrics and its latest evaluation. */
export async function latestMetrics(db: Db, trainingId: string): Promise<Map<string, { latest: MetricPoint | null; latestEval: MetricPoint | null }>> {
  const pick = (key: 'train' | 'eval') =>
    db.execute<{ hook_point: string; step: number; tokens: string; ts: Date | string; values: unknown }>(sql`
      SELECT DISTINCT ON (hook_point) hook_point, step, tokens, ts, ${trainingMetrics.values} AS values
      FROM ${trainingMetrics} WHERE training_id = ${trainingId} AND ${trainingMetrics.values} ? ${key}
      ORDER BY hook_point, step DESC`);
  const [train, evals] = await Promise.all([pick('train'), pick('eval')]);
  const point = (r: { hook_point: string; step: number; tokens: string; ts: Date | string; values: unknown }) =>
    toPoint({ hookPoint: r.hook_point, step: r.step, tokens: Number(r.tokens), ts: new Date(r.ts), values: r.values });
  const out = new Map<string, { latest: MetricPoint | null; latestEval: MetricPoint | null }>();
  for (const r of train.rows) out.set(r.hook_point, { latest: point(r), latestEval: null });
  for (const r of evals.rows) out.set(r.hook_point, { latest: out.get(r.hook_point)?.latest ?? null, latestEval: point(r) });
  return out;
}

// ---------------------------------------------------------------------------
// Completion

/** An SAE a training produced, as the job records it. */
export interface TrainedSae {
  name: string;
  modelId: string | null;
  hookPoint: string;
  architecture: 'relu' | 'topk' | 'batchtopk' | 'jumprelu';
  dIn: number;
  dSae: number;
  cfg: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
  path: string;
}

/**
 * Marks a running training completed and records its SAEs, in one
 * transaction: a retry after a crash between the two can neither record the
 * SAEs twice nor leave a completed training without them. Returns false
 * (recording nothing) when the training was not running any more.
 */
export async function completeTraining(db: Db, id: string, set: { progress: TrainingProgress }, made: readonly TrainedSae[]): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(trainings)
      .set({ status: 'completed', control: null, progress: set.progress, error: null, finishedAt: new Date(), updatedAt: new Date() })
      .where(and(eq(trainings.id, id), eq(trainings.status, 'running')))
      .returning({ id: trainings.id, purpose: trainings.purpose });
    if (!row) return false;
    await insertSaesInFamilies(tx, made.map((s) => ({ ...s, trainingId: id })), row.purpose ?? DEFAULT_PURPOSE);
    return true;
  });
}
