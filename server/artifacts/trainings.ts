/**
 * Trainings as the API shows them, their status events, the cancel of their
 * job and the sending of it; and what every route that queues a training
 * checks first (the extraction it trains on, the config against the workers'
 * memory and the stored activations), so that `POST /api/trainings` and the
 * sweeps' routes check alike.
 */
import type { Training, TrainConfigResolved, TrainingProgress } from '../../models/contracts/trainings.ts';
import { estimateTrainingMemory } from '../../models/memory.ts';
import { checkAgainstStore, type StoredHook } from '../../models/sae/config.ts';
import { totalStepsOf } from '../../models/sae/train.ts';
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { getExtraction, type ExtractionRow } from '../../db/queries/extractions.ts';
import { cancelTrainingOfJob, deleteTraining, getTraining, insertTraining, queuePositions, setTrainingJob, TRAIN_QUEUE, updateTraining, type TrainingRow, type TrainingStatus } from '../../db/queries/trainings.ts';
import { checkJobMemory } from '../job-memory.ts';
import { fieldError } from '../responses.ts';
import type { AppDeps } from '../app.ts';
import { sendJob } from './send-job.ts';

/** The queue of the job that fills this artifact (the `kind` of the job in the API's answers). */
export const TRAIN = TRAIN_QUEUE;

/** The API's view of a row; `positions` from db/queries/trainings.ts queuePositions. */
export function toTraining(r: TrainingRow, positions: Map<string, number>): Training {
  return {
    id: r.id,
    name: r.name,
    extractionId: r.extractionId,
    modelId: r.modelId,
    modelName: r.modelName,
    datasetName: r.datasetName,
    hookPoints: r.hookPoints,
    config: r.config,
    purpose: r.purpose,
    status: r.status,
    control: r.control,
    progress: r.progress,
    device: r.device,
    queuePosition: r.status === 'queued' && r.jobId ? (positions.get(r.jobId) ?? null) : null,
    stopped: r.progress?.stopped ?? false,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

/** A training's progress before its job reported any. */
export function initialProgress(r: Pick<TrainingRow, 'id' | 'status' | 'config'>): TrainingProgress {
  const totalSteps = totalStepsOf(r.config);
  return {
    id: r.id,
    status: r.status,
    phase: 'queued',
    step: 0,
    totalSteps,
    tokens: 0,
    totalTokens: totalSteps * r.config.batchSize,
    tokensPerSecond: 0,
    etaSeconds: null,
    resumedAt: 0,
    checkpoints: [],
    stopped: false,
    error: null,
    ts: Date.now(),
  };
}

/** Publishes a training's status on `training/{id}` (its last progress with the new status), for a change made outside its job. */
export async function publishTrainingStatus(events: Events, t: TrainingRow): Promise<void> {
  const base = t.progress ?? initialProgress(t);
  const phase = t.status === 'queued' ? 'queued' : base.phase;
  await events.publish(`training/${t.id}`, { type: 'progress', ...base, status: t.status, phase, tokensPerSecond: 0, etaSeconds: null, error: t.error, ts: Date.now() });
}

/** Marks the training run by `sae.train` job `jobId` cancelled, if it has not finished, and publishes it. */
export async function markTrainingCancelled(db: Db, events: Events, jobId: string): Promise<void> {
  const after = await cancelTrainingOfJob(db, jobId);
  if (after) await publishTrainingStatus(events, after);
}

/** Sends a `sae.train` job for training `id` and records it; when pg-boss cannot take it, runs `undo` and throws a 503. */
export async function sendTrainingJob(deps: Pick<AppDeps, 'db' | 'boss'>, id: string, undo: () => Promise<unknown>): Promise<string> {
  const jobId = await sendJob(deps.boss, TRAIN, { trainingId: id }, 'training', undo);
  await setTrainingJob(deps.db, id, jobId);
  return jobId;
}

/** Sends the job of a training just made queued (resume, stop from pause, retry); when pg-boss cannot take it, the training goes back to `was`. */
export async function resendTrainingJob(deps: Pick<AppDeps, 'db' | 'boss'>, row: TrainingRow, was: TrainingStatus): Promise<string> {
  return sendTrainingJob(deps, row.id, () => updateTraining(deps.db, row.id, { status: was, control: null }, ['queued']));
}

/** A completed extraction and its stored hooks, which a training may train on; else a 400 naming `extractionId`. */
export async function trainingSource(deps: Pick<AppDeps, 'db' | 'extractions'>, extractionId: string): Promise<{ extraction: ExtractionRow; stored: StoredHook[] }> {
  const extraction = await getExtraction(deps.db, extractionId);
  if (!extraction) throw fieldError('extractionId', `no extraction ${extractionId}`);
  if (extraction.status !== 'completed') throw fieldError('extractionId', `extraction ${extractionId} is ${extraction.status}: train once it has completed`);
  const summary = await deps.extractions.summary(extraction.id);
  if (!summary?.complete) throw fieldError('extractionId', `the activations of extraction ${extractionId} are ${summary ? 'incomplete' : 'gone'}`);
  return { extraction, stored: summary.hooks.map((h) => ({ hook: h.hook, d: h.d, rows: h.rows, shards: h.shards })) };
}

/**
 * Checks a resolved config before its training is queued: first against the
 * memory of the largest worker (a 422 naming the field to lower: a size that
 * cannot fit is the first thing to change), then against the stored
 * activations of its hooks (a SettingsError, a 400 naming `config.<field>`).
 */
export async function checkTrainingConfig(db: Db, config: TrainConfigResolved, hooks: readonly StoredHook[]): Promise<void> {
  await checkJobMemory(db, TRAIN, estimateTrainingMemory(config, hooks), 'This training');
  checkAgainstStore(config, hooks);
}

/** Inserts a queued training and sends its `sae.train` job (the row goes again when pg-boss cannot take it: a 503); the API's answer. */
export async function queueTraining(
  deps: Pick<AppDeps, 'db' | 'boss'>,
  t: { name: string; extractionId: string; hookPoints: string[]; config: TrainConfigResolved; purpose?: string | undefined },
): Promise<{ training: Training; job: { id: string; kind: string } }> {
  const row = await insertTraining(deps.db, t);
  const jobId = await sendTrainingJob(deps, row.id, () => deleteTraining(deps.db, row.id));
  const training = (await getTraining(deps.db, row.id)) ?? row;
  return { training: toTraining(training, await queuePositions(deps.db)), job: { id: jobId, kind: TRAIN } };
}
