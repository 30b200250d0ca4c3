/**
 * Applies the committed migrations in `db/migrations/`. Safe to run twice and
 * from several processes at once: an advisory lock serialises them and drizzle
 * skips migrations already recorded.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
/** Arbitrary constant identifying Loupe's migration lock. */
const LOCK_KEY = 7_304_112_001;

/** Runs every pending migration against the database at `url` (of `folder`: tests give a folder holding the first few). */
export async function runMigrations(url: string, folder = MIGRATIONS): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await migrate(drizzle(client), { migrationsFolder: folder, migrationsSchema: 'loupe_meta' });
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
