/** Discoveries: their status events, the cancel of their job and the sending of it (the API shows the row as it is). */
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { cancelDiscoveryOfJob, deleteDiscovery, DISCOVER_QUEUE, insertDiscovery, updateDiscovery, type DiscoveryRow } from '../../db/queries/discoveries.ts';
import type { AppDeps } from '../app.ts';
import { sendJob } from './send-job.ts';

/** The queue of the job that fills this artifact (the `kind` of the job in the API's answers). */
export const DISCOVER = DISCOVER_QUEUE;

/** Marks the discovery run by `features.discover` job `jobId` cancelled, if it has not finished, and publishes it. */
export async function markDiscoveryCancelled(db: Db, events: Events, jobId: string): Promise<void> {
  const after = await cancelDiscoveryOfJob(db, jobId);
  if (after) await events.publish(`discovery/${after.id}`, after);
}

/** Inserts a discovery and sends its job (the row goes when pg-boss cannot take it: a 503); publishes it queued. */
export async function queueDiscovery(deps: Pick<AppDeps, 'db' | 'boss' | 'events'>, d: Parameters<typeof insertDiscovery>[1]): Promise<DiscoveryRow> {
  const row = await insertDiscovery(deps.db, d);
  const jobId = await sendJob(deps.boss, DISCOVER, { discoveryId: row.id }, 'discovery', () => deleteDiscovery(deps.db, row.id));
  const queued = (await updateDiscovery(deps.db, row.id, { jobId })) ?? row;
  await deps.events.publish(`discovery/${queued.id}`, queued);
  return queued;
}
