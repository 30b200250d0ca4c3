/**
 * What cancelling a job does to the artifact it fills, keyed by queue, and
 * the deletes that cascade from one artifact to the ones made from it. A
 * cancel sets the job cancelled in pg-boss, then NOTIFYs the workers, whose
 * runner aborts the handler's signal (see workers/runner.ts); the row the job
 * was filling is marked cancelled here too, since a job cancelled before it
 * started has no handler to do it (a sweep's, with its running trials).
 */
import type { QueueName } from '../../models/contracts/jobs.ts';
import { stopDemoOfJob } from '../../db/queries/demo.ts';
import { listDiscoveries } from '../../db/queries/discoveries.ts';
import { listExtractions } from '../../db/queries/extractions.ts';
import { getJob, isFinished, notifyJobCancelled } from '../../db/queries/jobs.ts';
import { finishTrial, getSweepOfJob, listTrials, updateSweep } from '../../db/queries/sweeps.ts';
import type { AppDeps } from '../app.ts';
import { markDatasetCancelled } from './datasets.ts';
import { markDiscoveryCancelled } from './discoveries.ts';
import { markExtractionCancelled } from './extractions.ts';
import { markModelCancelled } from './models.ts';
import { refreshSweep } from './sweeps.ts';
import { markTrainingCancelled } from './trainings.ts';

type Deps = Pick<AppDeps, 'boss' | 'db' | 'events'>;

/** Per queue, what a cancelled job leaves: the row it fills marked cancelled (and published). `features.analyze` fills none. */
const ON_CANCEL: { readonly [Q in QueueName]?: (deps: Deps, jobId: string) => Promise<unknown> } = {
  'model.download': (d, jobId) => markModelCancelled(d.db, d.events, jobId),
  'dataset.import': (d, jobId) => markDatasetCancelled(d.db, d.events, jobId),
  'activations.extract': (d, jobId) => markExtractionCancelled(d.db, d.events, jobId),
  'sae.train': (d, jobId) => markTrainingCancelled(d.db, d.events, jobId),
  'features.discover': (d, jobId) => markDiscoveryCancelled(d.db, d.events, jobId),
  'demo.setup': (d, jobId) => stopDemoOfJob(d.db, jobId),
  'sweep.run': async (d, jobId) => {
    const sweep = await getSweepOfJob(d.db, jobId);
    if (sweep) await cancelSweep(d, sweep.id);
  },
};

/**
 * Cancels job `id` of queue `kind`: pg-boss state, the workers' signal, and
 * the row the job fills. Idempotent; a finished job is left as it is.
 */
export async function cancelJob(deps: Deps, kind: string, id: string): Promise<void> {
  await deps.boss.cancel(kind, id);
  await notifyJobCancelled(deps.db, id);
  const onCancel = Object.hasOwn(ON_CANCEL, kind) ? ON_CANCEL[kind as QueueName] : undefined;
  await onCancel?.(deps, id);
}

/** Cancels job `jobId` (the job of an artifact's row) when there is one and it has not finished; true when it did. */
export async function cancelUnfinishedJob(deps: Deps, jobId: string | null): Promise<boolean> {
  if (!jobId) return false;
  const job = await getJob(deps.db, jobId);
  if (!job || isFinished(job.state)) return false;
  await cancelJob(deps, job.kind, job.id);
  return true;
}

/**
 * Before a model or dataset is deleted (its extraction rows go with it, by
 * foreign key): stops their runs and removes their activation folders.
 */
export async function removeExtractionsOf(deps: Deps & Pick<AppDeps, 'extractions'>, filter: { modelId?: string; datasetId?: string }): Promise<void> {
  const rows = await listExtractions(deps.db, filter);
  for (const row of rows) {
    await cancelUnfinishedJob(deps, row.jobId);
    await deps.extractions.remove(row.id);
  }
}

/**
 * Before SAE `saeId` is deleted (its discovery rows go with it, by foreign
 * key): cancels its queued and running discoveries and removes the staging
 * folders of all of them (a cancelled job also removes its own when it
 * stops, in case it wrote after this).
 */
export async function removeDiscoveriesOf(deps: Deps & Pick<AppDeps, 'features'>, saeId: string): Promise<void> {
  const rows = await listDiscoveries(deps.db, { saeId, limit: Number.MAX_SAFE_INTEGER });
  for (const row of rows) {
    await cancelUnfinishedJob(deps, row.jobId);
    await deps.features.removeDiscovery(row.id);
  }
}

/**
 * Cancels sweep `id` unless it has finished: marked cancelled (under the row
 * lock its coordinator takes to make a trial, so none is made after this),
 * its `sweep.run` job cancelled, and each running trial cancelled with its
 * training's job (the training ends cancelled, keeping its checkpoints; a
 * paused one stays paused). True when it was cancelled here.
 */
export async function cancelSweep(deps: Deps, id: string): Promise<boolean> {
  const row = await updateSweep(deps.db, id, { status: 'cancelled', finishedAt: new Date() }, ['queued', 'running', 'paused']);
  if (!row) return false;
  await cancelUnfinishedJob(deps, row.jobId);
  for (const t of await listTrials(deps.db, id)) {
    if (t.status !== 'running') continue;
    await cancelUnfinishedJob(deps, t.training?.jobId ?? null);
    await finishTrial(deps.db, id, t.number, { status: 'cancelled', reason: 'the sweep was cancelled' });
  }
  await refreshSweep(deps, row);
  return true;
}
