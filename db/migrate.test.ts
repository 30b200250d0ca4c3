import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../scripts/testing/db.ts';
import { runMigrations } from './migrate.ts';

const TABLES = [
  'analysis_cache',
  'datasets',
  'discoveries',
  'event_payloads',
  'extractions',
  'feature_examples',
  'features',
  'job_progress',
  'models',
  'saes',
  'settings',
  'system_metrics',
  'training_metrics',
  'trainings',
  'workers',
];

describe('migrations', () => {
  let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
  beforeAll(async () => {
    db = await createEmptyDatabase('loupe_migrate');
  });
  afterAll(() => db.drop());

  async function tables(): Promise<string[]> {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`);
    await c.end();
    return rows.map((r) => r.table_name);
  }

  it('creates every pipeline table on a fresh database', async () => {
    expect(await tables()).toEqual([]);
    await runMigrations(db.url);
    expect(await tables()).toEqual(TABLES);
  });

  it('is safe to run again, and from several processes at once', async () => {
    await Promise.all([runMigrations(db.url), runMigrations(db.url), runMigrations(db.url)]);
    expect(await tables()).toEqual(TABLES);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM loupe_meta.__drizzle_migrations`);
    await c.end();
    // one row per migration file, not per run
    expect(rows[0].n).toBe(readdirSync(new URL('./migrations', import.meta.url)).filter((f) => f.endsWith('.sql')).length);
  });
});
