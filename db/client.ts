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
 * How long a query waits for a connection to be made, ms: past it the query
 * fails (as a database-unavailable error, db/outage.ts) instead of hanging
 * on a database that does not answer.
 */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens a connection pool. Errors of idle clients (a restarted server, a
 * dropped connection) are reported, not thrown: the pool replaces the client,
 * and while the database is away each query fails at once (connection
 * refused) and the next one after it is back connects again.
 */
export function openDatabase(url: string, opts: { max?: number; onError?: (err: Error) => void } = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  pool.on('error', (err) => opts.onError?.(err));
  // A checked-out client (a transaction) whose connection drops emits 'error' besides failing its query, and the
  // pool listens only to idle ones: unheard, that event would be an uncaught exception. The query's caller has the error.
  pool.on('connect', (client) => client.on('error', () => undefined));
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
