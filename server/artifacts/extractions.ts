/** Extractions as the API shows them, their status events, the cancel of their job and the sending of it. */
import type { Extraction } from '../../models/contracts/extractions.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { cancelExtractionOfJob, deleteExtraction, setExtractionJob, type ExtractionRow } from '../../db/queries/extractions.ts';
import type { AppDeps } from '../app.ts';
import { sendJob } from './send-job.ts';

/** The queue of the job that fills this artifact (the `kind` of the job in the API's answers). */
export const EXTRACT = 'activations.extract';

/** The API's view of a row. */
export function toExtraction(r: ExtractionRow): Extraction {
  return {
    id: r.id,
    modelId: r.modelId,
    modelName: r.modelName,
    datasetId: r.datasetId,
    datasetName: r.datasetName,
    hookPoints: r.hookPoints,
    settings: r.settings,
    status: r.status,
    progress: r.progress,
    device: r.device,
    stats: r.stats,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Publishes an extraction's status on `extraction/{id}` (its last progress with the new status), for a change made outside its job. */
export async function publishExtractionStatus(events: Events, e: ExtractionRow): Promise<void> {
  const base: ExtractionProgress = e.progress ?? {
    id: e.id,
    status: e.status,
    phase: 'queued',
    tokensDone: 0,
    tokensTotal: 0,
    windowsDone: 0,
    windowsTotal: 0,
    rows: 0,
    shards: 0,
    tokensPerSecond: 0,
    etaSeconds: null,
    fallbacks: [],
    error: null,
    ts: Date.now(),
  };
  await events.publish(`extraction/${e.id}`, { ...base, status: e.status, tokensPerSecond: 0, etaSeconds: null, error: e.error, ts: Date.now() });
}

/**
 * Marks the extraction run by `activations.extract` job `jobId` cancelled,
 * if it has not finished, and publishes it; the cancelled row, or undefined
 * when there was none to cancel.
 */
export async function markExtractionCancelled(db: Db, events: Events, jobId: string): Promise<ExtractionRow | undefined> {
  const extraction = await cancelExtractionOfJob(db, jobId);
  if (extraction) await publishExtractionStatus(events, extraction);
  return extraction;
}

/** Sends the job of a new row and records it; the row goes when pg-boss cannot take the job (a 503). */
export async function queueExtraction(deps: Pick<AppDeps, 'db' | 'boss'>, row: ExtractionRow): Promise<{ extraction: ExtractionRow; jobId: string }> {
  const jobId = await sendJob(deps.boss, EXTRACT, { extractionId: row.id }, 'extraction', () => deleteExtraction(deps.db, row.id));
  return { extraction: (await setExtractionJob(deps.db, row.id, jobId)) ?? row, jobId };
}
