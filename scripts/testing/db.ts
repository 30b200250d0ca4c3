/**
 * A fresh database per test file, in the cluster of the global setup, with
 * the migrations applied; dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../db/client.ts';
import { runMigrations } from '../../db/migrate.ts';

export interface TestDatabase extends Database {
  name: string;
  /** closes the pool and drops the database */
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database and returns its URL (no migrations). */
export async function createEmptyDatabase(prefix = 'loupe_test'): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = withDatabase(inject('pgAdminUrl'), name);
  return {
    name,
    url,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Creates a migrated database and opens a pool on it. */
export async function createTestDatabase(prefix?: string): Promise<TestDatabase> {
  const empty = await createEmptyDatabase(prefix);
  await runMigrations(empty.url);
  const database = openDatabase(empty.url);
  return {
    ...database,
    name: empty.name,
    async drop() {
      await database.close();
      await empty.drop();
    },
  };
}
