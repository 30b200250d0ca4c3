/**
 * The `sweeps` and `sweep_trials` tables: hyperparameter sweeps (their spec,
 * status and progress, coordinated by `sweep.run` jobs) and their trials,
 * each with its training; and the reads of the trials' training metrics the
 * coordinator scores and prunes by.
 *
 * A trial, its training and the training's job are made in one transaction
 * ({@link lockSweep} first), so a trial number is never taken twice and a
 * trial never has two trainings.
 */
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { JobState } from '../../models/contracts/jobs.ts';
import { METRICS, metricDef, metricValue, type MetricKey } from '../../models/contracts/metrics.ts';
import type { SweepProgress, SweepSpec, SweepStatus, TrialStatus } from '../../models/contracts/sweeps.ts';
import type { EvalValues, TrainConfigResolved, TrainingProgress, TrainMetricValues } from '../../models/contracts/trainings.ts';
import type { Curve } from '../../models/sweep/prune.ts';
import type { Params } from '../../models/sweep/space.ts';
import { totalStepsOf } from '../../models/sae/train.ts';
import type { Db } from '../client.ts';
import { datasets, extractions, models, sweeps, sweepTrials, trainingMetrics, trainings } from '../schema.ts';
import { BOSS_SCHEMA } from './jobs.ts';
import { TRAIN_QUEUE, type TrainingControl, type TrainingStatus } from './trainings.ts';

/** The queue of `sweep.run` jobs. */
export const SWEEP_QUEUE = 'sweep.run';

/** A sweep row; times in ms since epoch. */
export interface SweepRow {
  id: string;
  name: string;
  extractionId: string;
  modelName: string | null;
  datasetName: string | null;
  spec: SweepSpec;
  status: SweepStatus;
  /** as its coordinator last wrote it; null before */
  progress: SweepProgress | null;
  jobId: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

const columns = { row: sweeps, modelName: models.name, datasetName: datasets.name };

function toRow({ row: r, modelName, datasetName }: { row: typeof sweeps.$inferSelect; modelName: string | null; datasetName: string | null }): SweepRow {
  return {
    id: r.id,
    name: r.name,
    extractionId: r.extractionId,
    modelName,
    datasetName,
    spec: r.spec as SweepSpec,
    status: r.status,
    progress: (r.progress as SweepProgress | null) ?? null,
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
    .from(sweeps)
    .leftJoin(extractions, eq(extractions.id, sweeps.extractionId))
    .leftJoin(models, eq(models.id, extractions.modelId))
    .leftJoin(datasets, eq(datasets.id, extractions.datasetId))
    .where(where);
}

/** Inserts a queued sweep (its job is sent next, then recorded with {@link updateSweep}). */
export async function insertSweep(db: Db, s: { name: string; extractionId: string; spec: SweepSpec }): Promise<SweepRow> {
  const [row] = await db.insert(sweeps).values({ name: s.name, extractionId: s.extractionId, spec: s.spec, status: 'queued' }).returning({ id: sweeps.id });
  return (await getSweep(db, row!.id))!;
}

/** One sweep, or undefined. */
export async function getSweep(db: Db, id: string): Promise<SweepRow | undefined> {
  const [row] = await select(db, eq(sweeps.id, id));
  return row ? toRow(row) : undefined;
}

/** The sweep coordinated by job `jobId`, or undefined. */
export async function getSweepOfJob(db: Db, jobId: string): Promise<SweepRow | undefined> {
  const [row] = await select(db, eq(sweeps.jobId, jobId));
  return row ? toRow(row) : undefined;
}

/** Sweeps, newest first. */
export async function listSweeps(db: Db, f: { extractionId?: string | undefined; status?: SweepStatus | undefined; limit: number }): Promise<SweepRow[]> {
  const rows = await select(db, and(f.extractionId ? eq(sweeps.extractionId, f.extractionId) : undefined, f.status ? eq(sweeps.status, f.status) : undefined))
    .orderBy(desc(sweeps.createdAt), sweeps.id)
    .limit(f.limit);
  return rows.map(toRow);
}

/** Fields the job and the routes update. */
export interface SweepUpdate {
  status?: SweepStatus;
  progress?: SweepProgress;
  jobId?: string | null;
  error?: string | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
}

/** Updates a sweep, only while its status is one of `onlyIf` (when given); returns the row when it changed. */
export async function updateSweep(db: Db, id: string, set: SweepUpdate, onlyIf?: SweepStatus[]): Promise<SweepRow | undefined> {
  const where = onlyIf ? and(eq(sweeps.id, id), inArray(sweeps.status, onlyIf)) : eq(sweeps.id, id);
  const [row] = await db.update(sweeps).set({ ...set, updatedAt: new Date() }).where(where).returning({ id: sweeps.id });
  return row ? getSweep(db, row.id) : undefined;
}

/** Deletes a sweep and its trials (their trainings stay); true when it existed. */
export async function deleteSweep(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(sweeps).where(eq(sweeps.id, id)).returning({ id: sweeps.id });
  return rows.length > 0;
}

/**
 * Inside a transaction: locks the sweep's row until it ends and returns its
 * status, and its trials made and running (undefined: no such sweep). A
 * cancel, which updates the row, waits for the lock: the trials it then
 * lists include any made under it.
 */
export async function lockSweep(tx: Db, id: string): Promise<{ status: SweepStatus; trials: number; running: number } | undefined> {
  const [row] = await tx.select({ status: sweeps.status }).from(sweeps).where(eq(sweeps.id, id)).for('update');
  if (!row) return undefined;
  const [n] = await tx
    .select({ trials: sql<number>`count(*)::int`, running: sql<number>`count(*) FILTER (WHERE ${sweepTrials.status} = 'running')::int` })
    .from(sweepTrials)
    .where(eq(sweepTrials.sweepId, id));
  return { status: row.status, trials: n?.trials ?? 0, running: n?.running ?? 0 };
}

// ---------------------------------------------------------------------------
// Trials

/** A trial, with what the coordinator and the API read of its training (null: none, or deleted). Times in ms since epoch. */
export interface TrialRow {
  number: number;
  params: Params;
  status: TrialStatus;
  objective: number | null;
  reason: string | null;
  trainingId: string | null;
  createdAt: number;
  finishedAt: number | null;
  training: {
    status: TrainingStatus;
    control: TrainingControl | null;
    error: string | null;
    jobId: string | null;
    /** its job's pg-boss state (null: no job, or gone from both job tables) */
    jobState: JobState | null;
    step: number;
    totalSteps: number;
    stopped: boolean;
  } | null;
}

/** A sweep's trials by number, with their trainings. */
export async function listTrials(db: Db, sweepId: string): Promise<TrialRow[]> {
  // a job lives in exactly one of pg-boss's two tables (archived once finished for a while)
  const jobState = sql<JobState | null>`(SELECT state::text FROM ${sql.raw(`${BOSS_SCHEMA}.job`)} j WHERE j.name = ${TRAIN_QUEUE} AND j.id = ${trainings.jobId}::uuid
    UNION ALL SELECT state::text FROM ${sql.raw(`${BOSS_SCHEMA}.archive`)} a WHERE a.name = ${TRAIN_QUEUE} AND a.id = ${trainings.jobId}::uuid LIMIT 1)`;
  const rows = await db
    .select({ trial: sweepTrials, training: { id: trainings.id, status: trainings.status, control: trainings.control, error: trainings.error, jobId: trainings.jobId, config: trainings.config, progress: trainings.progress }, jobState })
    .from(sweepTrials)
    .leftJoin(trainings, eq(trainings.id, sweepTrials.trainingId))
    .where(eq(sweepTrials.sweepId, sweepId))
    .orderBy(asc(sweepTrials.number));
  return rows.map(({ trial: t, training: r, jobState: state }) => {
    const progress = (r?.progress as TrainingProgress | null) ?? null;
    return {
      number: t.number,
      params: t.params as Params,
      status: t.status,
      objective: t.objective,
      reason: t.reason,
      trainingId: t.trainingId,
      createdAt: t.createdAt.getTime(),
      finishedAt: t.finishedAt?.getTime() ?? null,
      training: r
        ? {
            status: r.status,
            control: r.control ?? null,
            error: r.error,
            jobId: r.jobId,
            jobState: state ?? null,
            step: progress?.step ?? 0,
            totalSteps: progress?.totalSteps ?? totalStepsOf((r.config as { config: TrainConfigResolved }).config),
            stopped: progress?.stopped ?? false,
          }
        : null,
    };
  });
}

/** Inserts a trial: running with its training, or already finished (a trial no training could be made for). */
export async function insertTrial(
  db: Db,
  t: { sweepId: string; number: number; params: Params; trainingId: string | null; status?: TrialStatus; reason?: string | null },
): Promise<void> {
  const finished = t.status !== undefined && t.status !== 'running';
  await db.insert(sweepTrials).values({ sweepId: t.sweepId, number: t.number, params: t.params, trainingId: t.trainingId, status: t.status ?? 'running', reason: t.reason ?? null, finishedAt: finished ? new Date() : null });
}

/** Ends a running trial (completed, pruned, failed or cancelled); false when it was not running any more. */
export async function finishTrial(db: Db, sweepId: string, number: number, set: { status: Exclude<TrialStatus, 'running'>; objective?: number | null; reason?: string | null }): Promise<boolean> {
  const rows = await db
    .update(sweepTrials)
    .set({ status: set.status, objective: set.objective ?? null, reason: set.reason ?? null, finishedAt: new Date() })
    .where(and(eq(sweepTrials.sweepId, sweepId), eq(sweepTrials.number, number), eq(sweepTrials.status, 'running')))
    .returning({ number: sweepTrials.number });
  return rows.length > 0;
}

// ---------------------------------------------------------------------------
// The trials' metrics

/** Every metric of the registry by key (null: not recorded). */
export type MetricValues = Partial<Record<MetricKey, number | null>>;

/**
 * Per training, every metric of the registry at its last point with
 * training metrics and at its last evaluation (a sweep's trainings have one
 * hook point each). Trainings without a point are missing from the map.
 */
export async function finalMetrics(db: Db, trainingIds: readonly string[]): Promise<Map<string, MetricValues>> {
  if (trainingIds.length === 0) return new Map();
  const last = (part: 'train' | 'eval') =>
    db.execute<{ training_id: string; part: unknown }>(sql`
      SELECT DISTINCT ON (training_id) training_id, ${trainingMetrics.values} -> ${part} AS part
      FROM ${trainingMetrics} WHERE training_id = ANY(${`{${trainingIds.join(',')}}`}::uuid[]) AND ${trainingMetrics.values} ? ${part}
      ORDER BY training_id, step DESC`);
  const [train, evals] = await Promise.all([last('train'), last('eval')]);
  const parts = new Map<string, { train: TrainMetricValues | null; eval: EvalValues | null }>();
  for (const r of train.rows) parts.set(r.training_id, { train: r.part as TrainMetricValues, eval: null });
  for (const r of evals.rows) parts.set(r.training_id, { train: parts.get(r.training_id)?.train ?? null, eval: r.part as EvalValues });
  return new Map([...parts].map(([id, p]) => [id, Object.fromEntries(METRICS.map((m) => [m.key, metricValue(m.key, p)])) as MetricValues]));
}

/** One metric of a training at its steps after `after`, ascending (points that lack it left out): a pruner's curve. */
export async function metricCurve(db: Db, trainingId: string, key: MetricKey, after: number): Promise<Curve> {
  const { rows } = await db.execute<{ step: number; v: unknown }>(sql`
    SELECT step, ${trainingMetrics.values} -> ${metricDef(key).source} -> ${key} AS v
    FROM ${trainingMetrics} WHERE training_id = ${trainingId} AND step > ${after}
    ORDER BY step`);
  const points = rows.filter((r) => typeof r.v === 'number');
  return { steps: points.map((r) => r.step), values: points.map((r) => r.v as number) };
}
