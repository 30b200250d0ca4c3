/**
 * Where a host's system samples go: published live on the `system/*` topics
 * and stored as history. Called by whichever process samples its host (the
 * server, or a worker started alone on a GPU host).
 */
import type { MetricPoint, SystemSnapshot } from '../models/system/types.ts';
import type { Db } from './client.ts';
import type { Events } from './events.ts';
import { insertSystemPoints } from './queries/system.ts';

/**
 * Publishes one snapshot and stores its scalars.
 * @param points the snapshot flattened by `snapshotPoints` (models/system/types.ts)
 */
export async function recordSystemSnapshot(db: Db, events: Events, snapshot: SystemSnapshot, points: readonly MetricPoint[]): Promise<void> {
  await Promise.all([
    events.publish('system/cpu', snapshot.cpu),
    events.publish('system/memory', snapshot.memory),
    events.publish('system/disk', snapshot.disk),
    events.publish('system/network', snapshot.network),
    ...snapshot.gpus.map((gpu) => events.publish(`system/gpu/${gpu.index}`, gpu)),
    insertSystemPoints(db, snapshot.host, snapshot.ts, points),
  ]);
}
