/**
 * A sweep of 6 tiny trials end to end through pg-boss and two real worker
 * processes, with the worker that coordinates it SIGKILLed mid-sweep (its
 * `sweep.run` job, and the trial it trains, left active in pg-boss): the
 * other worker takes it for dead (500 ms heartbeats through the test hook
 * `LOUPE_TEST_HEARTBEAT_MS`, so 1.5 s), pg-boss retries the coordinator and
 * the trial's training, and the sweep completes with every trial run
 * exactly once: 6 trials numbered 0–5, 6 distinct trainings, no other
 * training of the extraction, each trial completed or pruned. The sweep is
 * made through the API in this process; only the workers are processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createdSweepSchema, sweepDetailSchema } from '../models/contracts/sweeps.ts';
import { logger } from '../models/log.ts';
import type { ExtractionRow } from '../db/queries/extractions.ts';
import { getSweep, listTrials } from '../db/queries/sweeps.ts';
import { listTrainings } from '../db/queries/trainings.ts';
import { jobProgress } from '../db/schema.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { demoExtraction } from '../scripts/testing/training.ts';
import { Workers, type RunningWorker } from '../scripts/testing/worker.ts';
import { registerDemoModel } from './demo-model.ts';

const HOOK = 'blocks.1.hook_resid_post';
const STEPS = 80;

describe('a sweep whose coordinator\'s worker dies', () => {
  let db: TestDatabase;
  let t: TestApp;
  let extraction: ExtractionRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-sweep-e2e-'));
  const dataDir = path.join(tmp, 'data');
  const workers = new Workers(() => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', LOUPE_TEST_HEARTBEAT_MS: '500', SAE_TRAIN_CONCURRENCY: '2' }));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_sweep_e2e');
    await registerDemoModel(db.db, logger('test'));
    extraction = await demoExtraction(db.db, dataDir, path.join(tmp, 'slice'), [HOOK]);
    t = await createTestApp(db, dataDir);
  });
  afterAll(async () => {
    // the killed one by SIGKILL, the other cleanly
    await workers.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('completes, every trial run exactly once', async () => {
    const t0 = performance.now();
    const s = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
    const started = await workers.startTogether(2);
    const ready = s();

    const res = await t.request('/api/sweeps', {
      method: 'POST',
      body: JSON.stringify({
        extractionId: extraction.id,
        name: 'crash',
        base: { architecture: 'topk', dSae: 64, batchSize: 256, totalTokens: 256 * STEPS, metricsEvery: 5, checkpointEvery: 20, evalEvery: 0, evalWindows: 0 },
        space: { k: { type: 'int', min: 4, max: 16, log: true }, lr: { type: 'float', min: 5e-4, max: 5e-3, log: true } },
        method: 'random',
        budget: 6,
        parallelism: 2,
        objective: { metric: 'explainedVariance' },
      }),
    });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    const { sweep, job } = createdSweepSchema.parse(json);

    // mid-sweep: trials made and training; then the worker that coordinates it dies
    const owner = await waitFor(
      'the sweep to train its first trials',
      async () => {
        const [claim] = await db.db.select({ workerId: jobProgress.workerId }).from(jobProgress).where(eq(jobProgress.jobId, job.id));
        const trials = await listTrials(db.db, sweep.id);
        const training = trials.some((x) => x.training?.status === 'running' && x.training.step > 0);
        return claim?.workerId && trials.length >= 2 && training ? started.find((w) => w.id === claim.workerId) : undefined;
      },
      60_000,
      50,
    );
    const atKill = await listTrials(db.db, sweep.id);
    const before = atKill.length;
    expect(before).toBeLessThan(6);
    expect(await workers.kill(owner)).toBe('SIGKILL');
    // the trainings the dead worker was running: pg-boss retries their jobs, which continue the same trainings
    const claims = await db.db.select({ jobId: jobProgress.jobId }).from(jobProgress).where(eq(jobProgress.workerId, owner.id));
    const orphaned = atKill.filter((x) => x.training?.status === 'running' && claims.some((c) => c.jobId === x.training!.jobId));
    const killed = s();
    const survivor = started.find((w) => w !== owner) as RunningWorker;

    const done = await waitFor(
      'the sweep to complete',
      async () => {
        const row = await getSweep(db.db, sweep.id);
        if (row?.status === 'failed' || row?.status === 'cancelled') throw new Error(`the sweep is ${row.status}: ${row.error}`);
        return row?.status === 'completed' ? row : undefined;
      },
      90_000,
      200,
    );
    console.log(`sweep e2e: workers ready at ${ready}, coordinator's worker killed at ${killed} (${before} trials made, ${orphaned.length} training there), completed at ${s()}`);

    // the coordinator ran again after the kill, on the other worker
    expect((await t.boss.getJobById('sweep.run', job.id))?.retryCount).toBeGreaterThanOrEqual(1);
    expect(survivor.output()).toMatch(/going on from its trials/);
    expect(done.finishedAt).not.toBeNull();
    for (const x of orphaned) expect((await t.boss.getJobById('sae.train', x.training!.jobId!))?.retryCount, `trial ${x.number}'s training job`).toBeGreaterThanOrEqual(1);

    // every trial exactly once: numbers 0–5, one training each, no other training of the extraction
    const trials = await listTrials(db.db, sweep.id);
    expect(trials.map((x) => x.number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(trials.every((x) => x.status === 'completed' || x.status === 'pruned'), JSON.stringify(trials.map((x) => [x.status, x.reason]))).toBe(true);
    const ids = trials.map((x) => x.trainingId!);
    expect(new Set(ids).size).toBe(6);
    const trainings = await listTrainings(db.db, { extractionId: extraction.id });
    expect(trainings.map((x) => x.id).sort()).toEqual([...ids].sort());
    expect(trainings.every((x) => x.status === 'completed')).toBe(true);
    expect(trainings.map((x) => x.name).sort()).toEqual(trials.map((x) => `crash #${x.number}`).sort());
    const detail = sweepDetailSchema.parse(await (await t.request(`/api/sweeps/${sweep.id}`)).json());
    expect(detail.progress).toMatchObject({ trials: 6, running: 0, failed: 0, cancelled: 0 });
    expect(detail.progress.completed + detail.progress.pruned).toBe(6);
    expect(detail.progress.best).not.toBeNull();
  });
});
