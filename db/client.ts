/**
 * Connections to PostgreSQL: a pool per process, wrapped for drizzle.
 */
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema.ts';

/** The drizzle database handle used by every query module. */
export type Db = NodePgDatabase<typeof schema>;

/** A pool and its drizzle handle. */
export interface Database {
  pool: pg.Pool;
  db: Db;
  /** the connection string (for LISTEN clients and pg-boss) */
  url: string;
  close(): Promise<void>;
}

/**
 * Opens a connection pool. Errors of idle clients (a restarted server, a
 * dropped connection) are reported, not thrown: the pool replaces the client.
 */
export function openDatabase(url: string, opts: { max?: number; onError?: (err: Error) => void } = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, idleTimeoutMillis: 30_000 });
  pool.on('error', (err) => opts.onError?.(err));
  const db = drizzle(pool, { schema });
  let closed = false;
  return {
    pool,
    db,
    url,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
