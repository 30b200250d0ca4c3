/**
 * Creating pg-boss queues from several processes at once: pg-boss 10's
 * createQueue of the same new queues in parallel can deadlock (PostgreSQL
 * 40P01), so every process creates its queues under one advisory lock.
 */
import type pg from 'pg';
import type PgBoss from 'pg-boss';

const LOCK_KEY = 0x4c6f7570; // 'Loup'

export async function createQueues(pool: pg.Pool, boss: PgBoss, queues: readonly (Omit<PgBoss.Queue, 'name'> & { name: string })[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      for (const q of queues) await boss.createQueue(q.name, q);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
