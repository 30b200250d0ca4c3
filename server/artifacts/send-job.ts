/** Sending the job that fills an artifact, the same way for every queue. */
import type PgBoss from 'pg-boss';
import { JOB_QUEUES, type QueueName } from '../../models/contracts/jobs.ts';
import { AppError } from '../errors.ts';

/**
 * Sends a job of `queue` with the queue's options and returns its id. When
 * pg-boss cannot take it, runs `undo` (removing what was made for the job)
 * and throws a 503 `queue_unavailable` the client can retry.
 * @param what the job, for the message: "training" → "Could not queue the training job; try again"
 * @example const jobId = await sendJob(deps.boss, 'sae.train', { trainingId }, 'training', () => deleteTraining(db, trainingId));
 */
export async function sendJob(boss: PgBoss, queue: QueueName, data: object, what: string, undo: () => Promise<unknown>): Promise<string> {
  try {
    const jobId = await boss.send(queue, data, { ...JOB_QUEUES[queue] });
    if (!jobId) throw new Error('pg-boss did not create the job');
    return jobId;
  } catch (err) {
    await undo();
    throw new AppError('queue_unavailable', 503, `Could not queue the ${what} job; try again`, undefined, { cause: err });
  }
}
