import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  'sae_families',
  'saes',
  'settings',
  'sweep_trials',
  'sweeps',
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

  it('0007 puts the SAEs made before it in families: one per model and hook, versions by creation, the first active', async () => {
    const older = await createEmptyDatabase('loupe_migrate_0007');
    const folder = mkdtempSync(path.join(os.tmpdir(), 'loupe-migrations-'));
    const c = new pg.Client({ connectionString: older.url });
    try {
      // the migrations before 0007
      const all = new URL('./migrations', import.meta.url).pathname;
      cpSync(all, folder, { recursive: true });
      const journal = JSON.parse(readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
      const at = journal.entries.findIndex((e) => e.tag.startsWith('0007_'));
      writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
      await runMigrations(older.url, folder);
      await c.connect();
      const model = (await c.query<{ id: string }>(`INSERT INTO models (name, source, status) VALUES ('m', '{"kind":"local","path":"/x"}', 'completed') RETURNING id`)).rows[0]!.id;
      const sae = async (hook: string, modelId: string | null, at: string) =>
        (await c.query<{ id: string }>(`INSERT INTO saes (name, model_id, hook_point, architecture, d_in, d_sae, cfg, path, created_at) VALUES ('s', $1, $2, 'topk', 4, 8, '{}', '/p', $3) RETURNING id`, [modelId, hook, at])).rows[0]!.id;
      const a2 = await sae('h.a', model, '2026-01-02');
      const a1 = await sae('h.a', model, '2026-01-01');
      const b1 = await sae('h.b', model, '2026-01-03');
      const n1 = await sae('h.a', null, '2026-01-04');
      await runMigrations(older.url);
      const { rows } = await c.query<{ id: string; version: number; active: boolean; family: string; purpose: string }>(
        `SELECT s.id, s.version, f.active_sae_id = s.id AS active, f.id AS family, f.purpose FROM saes s JOIN sae_families f ON f.id = s.family_id`,
      );
      const of = (id: string) => rows.find((r) => r.id === id)!;
      expect(rows).toHaveLength(4);
      expect([of(a1).version, of(a2).version, of(b1).version, of(n1).version]).toEqual([1, 2, 1, 1]);
      expect([of(a1).active, of(a2).active, of(b1).active, of(n1).active]).toEqual([true, false, true, true]);
      expect(of(a1).family).toBe(of(a2).family);
      expect(new Set([of(a1).family, of(b1).family, of(n1).family]).size).toBe(3);
      expect(new Set(rows.map((r) => r.purpose))).toEqual(new Set(['default']));
    } finally {
      await c.end().catch(() => undefined);
      await older.drop();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
