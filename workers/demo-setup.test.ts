/**
 * The first-start demo's bookkeeping against a real PostgreSQL and pg-boss:
 * one `demo.setup` job however many workers start at once, none once the
 * demo is finished or while one lives, none with LOUPE_DEMO=0; a job
 * cancelled through the jobs API stops the demo for good; and a job whose
 * recorded artifact was deleted stops there, making nothing.
 * (workers/demo-setup.e2e.test.ts builds the whole demo with real processes.)
 */
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../models/config.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { DEMO_DATASET_FILE } from '../models/dataset-files.ts';
import { logger } from '../models/log.ts';
import { createEvents } from '../db/events.ts';
import { DEMO_DATASET_ID, ensureDemoDataset, updateDataset } from '../db/queries/datasets.ts';
import { getDemoState, updateDemoState } from '../db/queries/demo.ts';
import { listExtractions } from '../db/queries/extractions.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { cancelJob } from '../server/artifacts/index.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { DEMO_DATASET_SETTINGS } from './demo-dataset.ts';
import { registerDemoModel } from './demo-model.ts';
import { DEMO_SETUP, demoSetup, queueDemoSetup } from './demo-setup.ts';
import { startJobRunner } from './runner.ts';

const log = logger('test-demo');

describe('demo setup', () => {
  let db: TestDatabase;
  let boss: PgBoss;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_demo_setup');
    boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false, max: 4 });
    boss.on('error', () => undefined);
    await boss.start();
    await boss.createQueue(DEMO_SETUP, { name: DEMO_SETUP, ...JOB_QUEUES[DEMO_SETUP] });
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true });
    await db?.drop();
  });

  const queue = (demo = true) => queueDemoSetup({ database: db, boss, config: { demo }, log });
  const demoJobs = async () => (await db.pool.query<{ id: string; state: string }>(`SELECT id::text, state FROM pgboss.job WHERE name = $1 ORDER BY created_on`, [DEMO_SETUP])).rows;
  const reset = async () => {
    await db.pool.query(`DELETE FROM settings WHERE key = 'demo'`);
    await db.pool.query(`DELETE FROM pgboss.job WHERE name = $1`, [DEMO_SETUP]);
  };

  it('queues one job however many workers start at once, and none while it lives, once finished, or when off', async () => {
    await reset();
    expect(await queue(false)).toBe('off');
    expect(await getDemoState(db.db)).toBeNull();
    const results = await Promise.all(Array.from({ length: 6 }, () => queue()));
    expect(results.filter((r) => r === 'queued')).toHaveLength(1);
    expect(results.filter((r) => r === 'running')).toHaveLength(5);
    const jobs = await demoJobs();
    expect(jobs).toHaveLength(1);
    expect(await getDemoState(db.db)).toMatchObject({ status: 'queued', jobId: jobs[0]!.id, extractionId: null });
    expect(await queue()).toBe('running');

    // a job that ended without finishing the demo (its retries used up, say): the next start queues another
    await db.pool.query(`UPDATE pgboss.job SET state = 'failed' WHERE id = $1`, [jobs[0]!.id]);
    expect(await queue()).toBe('queued');
    expect(await demoJobs()).toHaveLength(2);

    for (const status of ['done', 'stopped', 'failed'] as const) {
      await updateDemoState(db.db, { status });
      expect(await queue()).toBe('finished');
    }
    expect(await demoJobs()).toHaveLength(2);
  });

  it('a demo job cancelled through the jobs API, even before it ran, stops the demo for good', async () => {
    await reset();
    expect(await queue()).toBe('queued');
    const [job] = await demoJobs();
    await cancelJob({ boss, db: db.db, events: createEvents(db.pool) }, DEMO_SETUP, job!.id);
    expect(await getDemoState(db.db)).toMatchObject({ status: 'stopped', error: 'the demo.setup job was cancelled' });
    expect(await queue()).toBe('finished');
    expect(await demoJobs()).toHaveLength(1);
  });

  it('stops, making nothing, when an artifact it recorded was deleted', async () => {
    await reset();
    await registerDemoModel(db.db, log);
    await ensureDemoDataset(db.db, { name: 'demo', file: DEMO_DATASET_FILE, path: '/nonexistent', tokenizerModelId: DEMO_MODEL_ID, settings: DEMO_DATASET_SETTINGS });
    await updateDataset(db.db, DEMO_DATASET_ID, { status: 'completed' });
    // a retry of a demo that had made its extraction, since deleted by a user
    await updateDemoState(db.db, { status: 'running', extractionId: randomUUID() });
    const runner = await startJobRunner({ boss, database: db, events: createEvents(db.pool), config: loadConfig({}), kinds: [demoSetup], log, workerId: 'w', pollingIntervalSeconds: 0.5 });
    try {
      expect(await queue()).toBe('queued');
      const state = await waitFor('the demo to stop', async () => {
        const s = await getDemoState(db.db);
        return s?.status === 'stopped' ? s : undefined;
      });
      expect(state.error).toBe('the demo extraction was deleted');
      await waitFor('the job to complete', async () => ((await demoJobs())[0]?.state === 'completed' ? true : undefined));
      expect(await listExtractions(db.db, {})).toHaveLength(0);
      expect(await queue()).toBe('finished');
    } finally {
      await runner.stop();
    }
  });
});
