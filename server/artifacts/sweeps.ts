/** Sweeps as the API shows them: the row, its trials scored from their trainings' final metrics, and its progress written and published. */
import { METRICS } from '../../models/contracts/metrics.ts';
import type { Sweep, SweepDetail, SweepProgress } from '../../models/contracts/sweeps.ts';
import { describeObjective } from '../../models/sweep/objective.ts';
import { paramImportance } from '../../models/sweep/importance.ts';
import { scoreTrials, sweepEvent, sweepProgress } from '../../models/sweep/trials.ts';
import { finalMetrics, listTrials, updateSweep, type SweepRow } from '../../db/queries/sweeps.ts';
import type { AppDeps } from '../app.ts';

/** The primary metrics of the registry: what a trial shows of its training. */
const PRIMARY = METRICS.filter((m) => m.tier === 'primary').map((m) => m.key);

/** The API's view of a row; `progress`: live, when the caller computed it (default: as the coordinator last wrote it). */
export function toSweep(r: SweepRow, progress: SweepProgress = r.progress ?? sweepProgress([])): Sweep {
  return {
    id: r.id,
    name: r.name,
    extractionId: r.extractionId,
    modelName: r.modelName,
    datasetName: r.datasetName,
    spec: r.spec,
    objectiveText: describeObjective(r.spec.objective),
    status: r.status,
    progress,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

/** A sweep's trials scored from their trainings' latest metrics, and the progress they give. */
async function scoredTrials(db: AppDeps['db'], r: SweepRow) {
  const trials = await listTrials(db, r.id);
  const finals = await finalMetrics(db, trials.flatMap((t) => (t.trainingId ? [t.trainingId] : [])));
  const scored = scoreTrials(r.spec.objective, trials, finals);
  return { scored, finals, progress: sweepProgress(scored) };
}

/**
 * The sweep, its trials by number (a running trial's objective is its
 * latest value) and each param's importance over the completed trials.
 */
export async function sweepDetail(db: AppDeps['db'], r: SweepRow): Promise<SweepDetail> {
  const { scored, finals, progress } = await scoredTrials(db, r);
  const trials = scored.map((t) => ({
    number: t.number,
    params: t.params,
    status: t.status,
    objective: t.objective ?? t.result?.value ?? null,
    score: t.result?.score ?? null,
    feasible: t.result?.feasible ?? null,
    best: progress.best?.number === t.number,
    reason: t.reason,
    trainingId: t.trainingId,
    training: t.training ? { status: t.training.status, step: t.training.step, totalSteps: t.training.totalSteps, stopped: t.training.stopped } : null,
    final: Object.fromEntries(PRIMARY.map((k) => [k, (t.trainingId && finals.get(t.trainingId)?.[k]) ?? null])),
    createdAt: t.createdAt,
    finishedAt: t.finishedAt,
  }));
  // feasible trials only: an infeasible one's score (below every feasible one) would swamp the spread the params explain
  const completed = scored.filter((t) => t.status === 'completed' && t.result?.feasible).map((t) => ({ params: t.params, score: t.result?.score ?? null }));
  return { ...toSweep(r, progress), trials, importance: paramImportance(r.spec.space, completed) };
}

/** Writes a sweep's progress from its trials (after a change made outside its job: a cancel) and publishes it on `sweep/{id}`. */
export async function refreshSweep(deps: Pick<AppDeps, 'db' | 'events'>, r: SweepRow): Promise<SweepRow> {
  const { progress } = await scoredTrials(deps.db, r);
  const after = (await updateSweep(deps.db, r.id, { progress })) ?? r;
  await deps.events.publish(`sweep/${r.id}`, sweepEvent(after, progress));
  return after;
}
