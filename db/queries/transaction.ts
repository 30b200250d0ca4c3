/**
 * One transaction on one pooled connection, with both a drizzle handle and a
 * pg-boss executor on it, so rows written and jobs sent or failed through
 * pg-boss (`boss.send(…, { db: executor })`, `boss.fail(…, { db: executor })`)
 * commit together or not at all.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import type { Database, Db } from '../client.ts';
import * as schema from '../schema.ts';

/** The part of pg-boss's database interface its `send`/`fail(…, { db })` use: a statement on a given connection. */
export interface JobSqlExecutor {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs `f` in one transaction: committed when it returns, rolled back when it
 * throws (the error thrown on). A connection that cannot roll back is closed
 * rather than given back to the pool.
 */
export async function inTransaction<T>(database: Database, f: (tx: { db: Db; executor: JobSqlExecutor }) => Promise<T>): Promise<T> {
  const client = await database.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await f({ db: drizzle(client, { schema }), executor: { executeSql: (text, values) => client.query(text, values) } });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}
