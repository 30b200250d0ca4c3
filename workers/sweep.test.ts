/**
 * `sweep.run` in-process over a real PostgreSQL and pg-boss, with
 * `sae.train` in the same runner, on a small extraction of the demo model:
 * a grid sweep of tiny trials completes with the grid's params in order,
 * each objective the score of its training's last metric point (read back
 * independently), the best marked; a trial far worse than the median of the
 * completed ones is pruned (its training stopped early, its SAE saved); and
 * how a running trial ends from its training's state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../models/config.ts';
import { metricValue } from '../models/contracts/metrics.ts';
import { createdSweepSchema, sweepDetailSchema, type CreateSweep, type SweepDetail } from '../models/contracts/sweeps.ts';
import { logger } from '../models/log.ts';
import { scoreTrial, type Objective } from '../models/sweep/objective.ts';
import { gridPoints, type SearchSpace } from '../models/sweep/space.ts';
import { createEvents } from '../db/events.ts';
import type { ExtractionRow } from '../db/queries/extractions.ts';
import type { TrialRow } from '../db/queries/sweeps.ts';
import { getTraining, listTrainings } from '../db/queries/trainings.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { allMetrics, demoExtraction } from '../scripts/testing/training.ts';
import { registerDemoModel } from './demo-model.ts';
import { startJobRunner, type JobRunner } from './runner.ts';
import { saeTrain } from './sae-train.ts';
import { sweepRun, trialEnd } from './sweep.ts';

const HOOK = 'blocks.1.hook_resid_post';
/** Tiny trials: a 64-feature TopK SAE, 256 tokens a step, a metric point every 5 steps, no evaluation. */
const BASE = { architecture: 'topk', dSae: 64, k: 8, batchSize: 256, metricsEvery: 5, checkpointEvery: 1000, evalEvery: 0, evalWindows: 0 } as const;

describe('sweep.run', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let extraction: ExtractionRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-sweep-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    vi.stubEnv('SAE_TRAIN_CONCURRENCY', '2');
    db = await createTestDatabase('loupe_sweep');
    await registerDemoModel(db.db, logger('test'));
    extraction = await demoExtraction(db.db, dataDir, path.join(tmp, 'slice'), [HOOK]);
    t = await createTestApp(db, dataDir);
    runner = await startJobRunner({
      boss: t.boss,
      database: db,
      events: createEvents(db.pool),
      config: loadConfig({ DATA_DIR: dataDir, LOUPE_DEVICE: 'cpu' }),
      kinds: [saeTrain, sweepRun],
      log: logger('test-worker'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
    });
  });
  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  const run = async (body: Partial<CreateSweep>): Promise<SweepDetail> => {
    const res = await t.request('/api/sweeps', { method: 'POST', body: JSON.stringify({ extractionId: extraction.id, hookPoint: HOOK, ...body }) });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    const { sweep } = createdSweepSchema.parse(json);
    return waitFor(
      `sweep ${sweep.id} to complete`,
      async () => {
        const d = sweepDetailSchema.parse(await (await t.request(`/api/sweeps/${sweep.id}`)).json());
        if (d.status === 'failed' || d.status === 'cancelled') throw new Error(`the sweep is ${d.status}: ${d.error}`);
        return d.status === 'completed' ? d : undefined;
      },
      90_000,
      200,
    );
  };

  it('runs a grid of tiny trials: the grid\'s params in order, each objective its training\'s final explained variance, the best marked', async () => {
    const space: SearchSpace = { k: { type: 'choice', values: [4, 16] }, lr: { type: 'float', min: 1e-3, max: 4e-3, points: 2 } };
    const objective: Objective = { metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 10 }] };
    const started = performance.now();
    const done = await run({ name: 'grid', base: { ...BASE, totalTokens: 256 * 20 }, method: 'grid', space, objective, parallelism: 2 });
    console.log(`grid sweep of 4 trials: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    expect(done.progress).toMatchObject({ trials: 4, running: 0, completed: 4, pruned: 0, failed: 0, cancelled: 0 });
    expect(done.trials.map((x) => x.params)).toEqual(gridPoints(space));
    // each objective is the score of the last stored metric point, read here through the metric history
    const expected = await Promise.all(
      done.trials.map(async (x) => {
        const last = (await allMetrics(db.db, x.trainingId!)).filter((p) => p.train).at(-1)!;
        expect(last.step).toBe(20);
        return scoreTrial(objective, { explainedVariance: metricValue('explainedVariance', last), l0: metricValue('l0', last) });
      }),
    );
    expect(done.trials.map((x) => [x.status, x.objective, x.score, x.feasible])).toEqual(expected.map((e) => ['completed', e.value, e.score, e.feasible]));
    const bestScore = Math.max(...expected.filter((e) => e.feasible).map((e) => e.score!));
    const best = done.trials.filter((x) => x.best);
    expect(best).toHaveLength(1);
    expect(best[0]!.score).toBe(bestScore);
    expect(done.progress.best).toEqual({ number: best[0]!.number, value: best[0]!.objective, params: best[0]!.params });
    // one training a trial, named after the sweep, with the trial's config
    const trainings = await Promise.all(done.trials.map((x) => getTraining(db.db, x.trainingId!)));
    expect(trainings.map((tr) => [tr?.name, tr?.status, tr?.config.k, tr?.config.lr, tr?.purpose])).toEqual(done.trials.map((x) => [`grid #${x.number}`, 'completed', x.params.k, x.params.lr, 'sweep grid']));
    expect(new Set(done.trials.map((x) => x.trainingId)).size).toBe(4);
    expect((await listTrainings(db.db, { extractionId: extraction.id })).length).toBe(4);
  }, 120_000);

  it('prunes a trial far worse than the median of the completed ones at the same step: its training stops and saves its SAE', async () => {
    // lr 1e-9 barely moves the SAE: past the warm-up its explained variance is below the two trials before it.
    // 800 steps: long enough that the coordinator (a round a second) sees it run on a machine several times faster than CI's
    const done = await run({
      name: 'prune',
      base: { ...BASE, metricsEvery: 20, totalTokens: 256 * 800 },
      method: 'grid',
      space: { lr: { type: 'choice', values: [3e-3, 2e-3, 1e-9] } },
      objective: { metric: 'explainedVariance' },
      parallelism: 1,
      pruner: { enabled: true, warmupSteps: 20, minTrials: 2 },
    });
    expect(done.trials.map((x) => x.status)).toEqual(['completed', 'completed', 'pruned']);
    const pruned = done.trials[2]!;
    console.log(`pruned: ${pruned.reason}; its training stopped at step ${pruned.training?.step}`);
    expect(pruned.reason).toMatch(/^explained variance -?[\d.e-]+ at step \d+, below the median [\d.e-]+ of 2 earlier trials at that step$/);
    expect(pruned.training).toMatchObject({ status: 'completed', stopped: true });
    expect(pruned.training!.step).toBeLessThan(800);
    expect(done.progress).toMatchObject({ trials: 3, completed: 2, pruned: 1, best: { number: expect.any(Number) } });
    expect(done.progress.best!.number).not.toBe(2);
  }, 120_000);

  it('ends a running trial from its training: completed, failed for good, cancelled, deleted, or its job over without a word', () => {
    const trial = (training: Partial<NonNullable<TrialRow['training']>> | null): TrialRow => ({
      number: 0,
      params: {},
      status: 'running',
      objective: null,
      reason: null,
      trainingId: training ? 't' : null,
      createdAt: 0,
      finishedAt: null,
      training: training && { status: 'running', control: null, error: null, jobId: 'j', jobState: 'active', step: 0, totalSteps: 10, stopped: false, ...training },
    });
    expect(trialEnd(trial({ status: 'completed' }))).toEqual({ status: 'completed', reason: null });
    expect(trialEnd(trial({ status: 'failed', error: 'out of memory' }))).toEqual({ status: 'failed', reason: 'out of memory' });
    expect(trialEnd(trial({ status: 'cancelled' }))).toEqual({ status: 'cancelled', reason: 'its training was cancelled' });
    expect(trialEnd(trial(null))).toEqual({ status: 'cancelled', reason: 'its training was deleted' });
    expect(trialEnd(trial({ status: 'running', jobState: 'failed' }))).toEqual({ status: 'failed', reason: 'its sae.train job failed without finishing it' });
    // a retry pending (a failure, a dead worker) goes on; so does a paused training, whose job ended with the pause
    expect(trialEnd(trial({ status: 'queued', jobState: 'retry' }))).toBeNull();
    expect(trialEnd(trial({ status: 'running', jobState: 'active' }))).toBeNull();
    expect(trialEnd(trial({ status: 'paused', jobState: 'completed' }))).toBeNull();
  });
});
