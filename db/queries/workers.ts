/**
 * Worker heartbeats, so the health endpoint can say which workers are alive
 * and the other workers can tell a dead one (workers/recovery.ts).
 */
import { desc, eq, gt, sql } from 'drizzle-orm';
import type { AdapterProbe } from '../../models/contracts/device.ts';
import type { Db } from '../client.ts';
import { workers } from '../schema.ts';

/** A worker process as stored; times in ms since epoch. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  queues: string[];
  /** memory of its host (or its cgroup limit), bytes; absent or null when not reported */
  memoryBytes?: number | null;
  /** its LOUPE_DEVICE; absent or null when not reported */
  device?: 'auto' | 'cpu' | 'webgpu' | null;
  /** the WebGPU adapters its probe found at start; absent or null until the probe answers */
  adapters?: AdapterProbe | null;
  startedAt: number;
  lastSeen: number;
}

/** Records (or refreshes) a worker's heartbeat; `heartbeat_at` takes the database's clock. */
export async function upsertWorker(db: Db, w: WorkerInfo): Promise<void> {
  const row = { ...w, startedAt: new Date(w.startedAt), lastSeen: new Date(w.lastSeen), heartbeatAt: sql`now()` };
  await db
    .insert(workers)
    .values(row)
    .onConflictDoUpdate({ target: workers.id, set: { lastSeen: row.lastSeen, heartbeatAt: sql`now()`, queues: row.queues, concurrency: row.concurrency, memoryBytes: row.memoryBytes ?? null, device: row.device ?? null, adapters: row.adapters ?? null } });
}

/** Removes a worker that shut down cleanly. */
export async function removeWorker(db: Db, id: string): Promise<void> {
  await db.delete(workers).where(eq(workers.id, id));
}

/** Workers whose last heartbeat is younger than `withinMs`, newest first. */
export async function listActiveWorkers(db: Db, withinMs: number, now = Date.now()): Promise<WorkerInfo[]> {
  const rows = await db
    .select()
    .from(workers)
    .where(gt(workers.lastSeen, new Date(now - withinMs)))
    .orderBy(desc(workers.lastSeen));
  return rows.map(({ heartbeatAt: _, ...r }) => ({ ...r, device: r.device as WorkerInfo['device'], adapters: (r.adapters as AdapterProbe | null) ?? null, startedAt: r.startedAt.getTime(), lastSeen: r.lastSeen.getTime() }));
}

/**
 * The memory, bytes, of the largest host among the workers seen within
 * `withinMs` that serve `queue` and reported it; null when none did (no
 * worker is running, or only ones that predate the report).
 */
export async function largestWorkerMemory(db: Db, queue: string, withinMs: number, now = Date.now()): Promise<number | null> {
  const list = await listActiveWorkers(db, withinMs, now);
  const known = list.filter((w) => w.queues.includes(queue) && typeof w.memoryBytes === 'number' && w.memoryBytes > 0).map((w) => w.memoryBytes!);
  return known.length ? Math.max(...known) : null;
}
