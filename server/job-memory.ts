/**
 * The memory check of a job before it is queued: its estimate
 * (models/memory.ts) against the memory of the largest live worker that
 * serves its queue, as the workers report it in their heartbeats. With no
 * worker that reported its memory the job is queued, and the worker that
 * takes it checks against its own host before it allocates anything.
 */
import { POLICY } from '../models/config.ts';
import { checkFits, InsufficientMemoryError, type MemoryEstimate } from '../models/memory.ts';
import type { Db } from '../db/client.ts';
import { largestWorkerMemory } from '../db/queries/workers.ts';
import { AppError } from './errors.ts';

/**
 * Throws a 422 `insufficient_memory` naming the field to lower when
 * `estimate` does not fit the largest worker of `queue`; the message gives
 * the estimate and the limit in GiB.
 * @param what the job, for the message ("This training")
 */
export async function checkJobMemory(db: Db, queue: string, estimate: MemoryEstimate, what: string): Promise<void> {
  const total = await largestWorkerMemory(db, queue, POLICY.WORKER_SEEN_WINDOW_MS);
  if (total === null) return;
  try {
    checkFits(estimate, total, what, 'the largest worker');
  } catch (err) {
    if (err instanceof InsufficientMemoryError) {
      throw new AppError('insufficient_memory', 422, err.message, [{ field: err.field, message: err.message }]);
    }
    throw err;
  }
}
