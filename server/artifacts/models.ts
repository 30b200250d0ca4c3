/** Models as the API shows them, their status events, the cancel of their download and the sending of it. */
import type { Model } from '../../models/contracts/api.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { cancelModelOfJob, deleteModel, setModelJob, type ModelRow } from '../../db/queries/models.ts';
import type { AppDeps } from '../app.ts';
import { sendJob } from './send-job.ts';

/** The queue of the job that fills this artifact (the `kind` of the job in the API's answers). */
export const DOWNLOAD = 'model.download';

/** The API's view of a row. */
export function toModel(r: ModelRow): Model {
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    status: r.status,
    architecture: r.architecture,
    dtype: r.dtype,
    sizeBytes: r.sizeBytes,
    progress: r.progress,
    error: r.error,
    builtin: r.builtin,
    default: r.builtin,
    jobId: r.jobId,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Publishes a model's status on `model/{id}` (its last progress with the new status), for a change made outside its job. */
export async function publishModelStatus(events: Events, m: ModelRow): Promise<void> {
  const base: ModelProgress = m.progress ?? { id: m.id, status: m.status, files: [], bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, etaSeconds: null, error: null, ts: Date.now() };
  await events.publish(`model/${m.id}`, { ...base, status: m.status, bytesPerSecond: 0, etaSeconds: null, error: m.error, ts: Date.now() });
}

/** Marks the model filled by `model.download` job `jobId` cancelled, if it has not finished, and publishes it. */
export async function markModelCancelled(db: Db, events: Events, jobId: string): Promise<void> {
  const model = await cancelModelOfJob(db, jobId);
  if (model) await publishModelStatus(events, model);
}

/** Sends the download job of a new row and records it; the row goes when pg-boss cannot take the job (a 503). */
export async function queueDownload(deps: Pick<AppDeps, 'db' | 'boss'>, row: ModelRow): Promise<{ model: ModelRow; jobId: string }> {
  const jobId = await sendJob(deps.boss, DOWNLOAD, { modelId: row.id }, 'download', () => deleteModel(deps.db, row.id));
  return { model: (await setModelJob(deps.db, row.id, jobId)) ?? row, jobId };
}
