/** Datasets as the API shows them, their status events, the cancel of their import and the sending of it. */
import type { Dataset, DatasetSource } from '../../models/contracts/datasets.ts';
import { emptyDatasetProgress, type DatasetPhase, type DatasetProgress } from '../../models/contracts/topics.ts';
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { cancelDatasetOfJob, deleteDataset, setDatasetJob, type DatasetRow } from '../../db/queries/datasets.ts';
import type { AppDeps } from '../app.ts';
import { sendJob } from './send-job.ts';

/** The queue of the job that fills this artifact (the `kind` of the job in the API's answers). */
export const IMPORT = 'dataset.import';

/** The phase an import of this source starts in. */
function firstPhase(source: DatasetSource): DatasetPhase {
  if (source.kind === 'hub') return 'downloading';
  if (source.kind === 'upload' && source.fileName.toLowerCase().endsWith('.zip')) return 'extracting';
  return 'tokenizing';
}

/** The API's view of a row. */
export function toDataset(r: DatasetRow): Dataset {
  const s = r.stats;
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    status: r.status,
    builtin: r.builtin,
    tokenizerModelId: r.tokenizerModelId,
    settings: r.settings,
    stats: s
      ? { documents: s.documents, tokens: s.tokens, uniqueTokens: s.uniqueTokens, vocabSize: s.vocabSize, meanLength: s.length.mean, truncated: s.truncated, skippedRows: s.skippedRows }
      : null,
    sizeBytes: r.sizeBytes,
    // The row's status is the truth (a cancel is written there before the job hears of it).
    progress: r.progress ? { ...r.progress, status: r.status, error: r.error } : null,
    error: r.error,
    jobId: r.jobId,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Publishes a dataset's status on `dataset/{id}` (its last progress with the new status), for a change made outside its job. */
export async function publishDatasetStatus(events: Events, d: DatasetRow): Promise<void> {
  const base: DatasetProgress = d.progress ?? emptyDatasetProgress(d.id, d.status, firstPhase(d.source));
  await events.publish(`dataset/${d.id}`, { ...base, status: d.status, bytesPerSecond: 0, tokensPerSecond: 0, etaSeconds: null, error: d.error, ts: Date.now() });
}

/** Marks the dataset filled by `dataset.import` job `jobId` cancelled, if it has not finished, and publishes it. */
export async function markDatasetCancelled(db: Db, events: Events, jobId: string): Promise<void> {
  const dataset = await cancelDatasetOfJob(db, jobId);
  if (dataset) await publishDatasetStatus(events, dataset);
}

/** Sends the import job of a new row and records it; when pg-boss cannot take it, the row and its files go (a 503). */
export async function queueImport(deps: Pick<AppDeps, 'db' | 'boss' | 'datasets'>, row: DatasetRow): Promise<{ dataset: DatasetRow; jobId: string }> {
  const jobId = await sendJob(deps.boss, IMPORT, { datasetId: row.id }, 'import', async () => {
    await deleteDataset(deps.db, row.id);
    await deps.datasets.remove(row.id);
  });
  return { dataset: (await setDatasetJob(deps.db, row.id, jobId)) ?? row, jobId };
}
