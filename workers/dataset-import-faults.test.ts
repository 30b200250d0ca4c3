/**
 * `dataset.import` faults in-process (real API, pg-boss, PostgreSQL): a text
 * holding NUL imports (its statistics store NUL as ␀); a database error that
 * a retry would hit again (a CHECK constraint the test adds) fails the import
 * at once with PostgreSQL's message and no SQL, not retried into ENOENT; a
 * transient one (a trigger that raises serialization_failure once) is retried
 * and the retry finds the upload still there.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../models/config.ts';
import { createdDatasetSchema, datasetSampleSchema, datasetSchema, datasetStatsSchema, type Dataset } from '../models/contracts/datasets.ts';
import { logger } from '../models/log.ts';
import { createEvents } from '../db/events.ts';
import { BOSS_SCHEMA, getJob } from '../db/queries/jobs.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { datasetImport } from './dataset-import.ts';
import { registerDemoModel } from './demo-model.ts';
import { startJobRunner, type JobRunner } from './runner.ts';

describe('dataset.import faults', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-dataset-faults-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_dataset_faults');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
    const config = loadConfig({ DATA_DIR: dataDir });
    runner = await startJobRunner({ boss: t.boss, database: db, events: createEvents(db.pool), config, kinds: [datasetImport], log: logger('test-runner'), workerId: 'test-worker', pollingIntervalSeconds: 0.5, stateCheckMs: 300 });
  });
  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const dataset = async (id: string) => datasetSchema.parse(await (await t.request(`/api/datasets/${id}`)).json());
  const until = (id: string, ok: (d: Dataset) => boolean, timeoutMs = 30_000) =>
    waitFor(`dataset ${id}`, async () => {
      const d = await dataset(id);
      return ok(d) ? d : undefined;
    }, timeoutMs, 50);
  const upload = async (fileName: string, body: string, name: string) => {
    const res = await t.request(`/api/datasets/upload?filename=${encodeURIComponent(fileName)}&name=${name}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status, await res.clone().text()).toBe(202);
    return createdDatasetSchema.parse(await res.json());
  };
  const rawDir = (id: string) => path.join(dataDir, 'datasets', id, 'raw');
  const text = Array.from({ length: 40 }, (_, i) => `line ${i}\u0000 with a NUL\u0000\u0000 inside`).join('\n') + '\n';

  it('imports a text holding NUL: the statistics show it as ␀, the upload goes once committed', async () => {
    const { dataset: queued } = await upload('nul.txt', text, 'nul');
    const done = await until(queued.id, (d) => d.status === 'completed' || d.status === 'failed');
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    // a .txt upload is one document
    expect(done.stats?.documents).toBe(1);
    const stats = datasetStatsSchema.parse(await (await t.request(`/api/datasets/${queued.id}/stats`)).json());
    // 'Ā' (id 189) is byte 0 in the demo model's byte-level vocabulary: three a line, the most frequent token
    expect(stats.topTokens[0]).toMatchObject({ id: 189, count: 120, text: '␀' });
    expect(JSON.stringify(stats)).not.toContain('\\u0000');
    const sample = datasetSampleSchema.parse(await (await t.request(`/api/datasets/${queued.id}/samples?limit=1`)).json());
    expect(sample.documents[0]!.strings).toContain('␀');
    // removed just after the row says completed
    await waitFor('raw/ to go', () => (existsSync(rawDir(queued.id)) ? undefined : true), 5000, 20);
  });

  it('fails at once, with PostgreSQL\'s reason and no SQL, when the final write is refused for good', async () => {
    await db.pool.query(`ALTER TABLE datasets ADD CONSTRAINT test_refused CHECK (name <> 'refused' OR status <> 'completed')`);
    try {
      const { dataset: queued, job } = await upload('refused.txt', text, 'refused');
      const failed = await until(queued.id, (d) => d.status === 'failed' || d.status === 'completed');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/^a database query failed: .*violates check constraint "test_refused" \(SQLSTATE 23514\)$/);
      expect(failed.error).not.toMatch(/Failed query|params|ENOENT|update "datasets"/i);
      const j = await waitFor('the job to fail', async () => {
        const r = await getJob(db.db, job.id);
        return r?.state === 'failed' ? r : undefined;
      }, 10_000, 50);
      // not retried: the first attempt was the last
      expect(j.retryCount).toBe(0);
      expect(JSON.stringify(j.output)).not.toMatch(/Failed query|"params"|"query"/);
      expect(JSON.stringify(j.output)).toContain('SQLSTATE 23514');
      const viaApi = await (await t.request(`/api/jobs/${job.id}`)).text();
      expect(viaApi).not.toMatch(/Failed query|"params"/);
    } finally {
      await db.pool.query(`ALTER TABLE datasets DROP CONSTRAINT test_refused`);
    }
  });

  it('retries a transient failure of the final write, and the retry finds the upload', async () => {
    await db.pool.query(`CREATE SEQUENCE test_flaky_seq`);
    await db.pool.query(`
      CREATE FUNCTION test_flaky() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- a sequence is not rolled back with the failed statement: the first completion only
        IF NEW.name = 'flaky' AND NEW.status = 'completed' AND nextval('test_flaky_seq') = 1 THEN
          RAISE EXCEPTION 'could not serialize access (test)' USING ERRCODE = '40001';
        END IF;
        RETURN NEW;
      END $$`);
    await db.pool.query(`CREATE TRIGGER test_flaky BEFORE UPDATE ON datasets FOR EACH ROW EXECUTE FUNCTION test_flaky()`);
    try {
      const { dataset: queued, job } = await upload('flaky.txt', text, 'flaky');
      const waiting = await until(queued.id, (d) => d.status === 'queued' && d.error !== null);
      expect(waiting.error).toMatch(/^a database query failed: could not serialize access \(test\) \(SQLSTATE 40001\) \(attempt 1 of 3; retrying\)$/);
      // the upload is still there for the retry (which is not made to wait out its 10 s delay)
      expect(existsSync(path.join(rawDir(queued.id), 'flaky.txt'))).toBe(true);
      await waitFor('the retry to be scheduled', async () => (await getJob(db.db, job.id))?.state === 'retry' || undefined, 10_000, 50);
      await db.pool.query(`UPDATE ${BOSS_SCHEMA}.job SET start_after = now() WHERE id = $1 AND state = 'retry'`, [job.id]);
      const done = await until(queued.id, (d) => d.status === 'completed' || d.status === 'failed');
      expect(done).toMatchObject({ status: 'completed', error: null, stats: { documents: 1 } });
      await waitFor('raw/ to go', () => (existsSync(rawDir(queued.id)) ? undefined : true), 5000, 20);
      expect((await getJob(db.db, job.id))?.retryCount).toBe(1);
    } finally {
      await db.pool.query(`DROP TRIGGER test_flaky ON datasets; DROP FUNCTION test_flaky(); DROP SEQUENCE test_flaky_seq`);
    }
  });
});
