/**
 * A `sae.train` worker killed mid-training (SIGKILL after a checkpoint: no
 * handler runs, the job stays active) through real processes: the next
 * worker takes it for dead (500 ms heartbeats through the test hook
 * `LOUPE_TEST_HEARTBEAT_MS`, so 1.5 s), fails the job through pg-boss, and the
 * retry resumes from the last checkpoints. The metric history has every
 * point once, with no gap: the points recorded between the checkpoint and
 * the kill are recomputed with the same values and overwritten. Each SAE
 * equals byte for byte an uninterrupted run (`loupe train` with the same
 * config, beside it). pg-boss and a test database stand in for the server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricPoint } from '../models/contracts/trainings.ts';
import { logger } from '../models/log.ts';
import { resolveTrainConfig } from '../models/sae/config.ts';
import { trainingHookDir } from '../models/sae/files.ts';
import { loadSae } from '../models/sae/saelens.ts';
import { CHECKPOINT_FILE } from '../models/sae/checkpoint.ts';
import { openSafetensors } from '../models/safetensors.ts';
import type { ExtractionRow } from '../db/queries/extractions.ts';
import { listSaes } from '../db/queries/saes.ts';
import { getTraining, insertTraining, setTrainingJob } from '../db/queries/trainings.ts';
import { loupe } from '../scripts/testing/activations.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { allMetrics, demoExtraction } from '../scripts/testing/training.ts';
import { startQueue, Workers, type TestQueue } from '../scripts/testing/worker.ts';
import { registerDemoModel } from './demo-model.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.4.hook_resid_post'];
const STEPS = 200;

/** A point without what differs between two computations of it: when it was recorded and the rate. */
const values = (p: MetricPoint) => ({ hook: p.hook, step: p.step, tokens: p.tokens, eval: p.eval, train: p.train ? { ...p.train, tokensPerSecond: 0 } : null });

describe('a training whose worker dies', () => {
  let db: TestDatabase;
  let queue: TestQueue;
  let extraction: ExtractionRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-train-resume-'));
  const dataDir = path.join(tmp, 'data');
  const workers = new Workers(() => ({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', LOUPE_TEST_HEARTBEAT_MS: '500' }));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_train_resume');
    await registerDemoModel(db.db, logger('test'));
    extraction = await demoExtraction(db.db, dataDir, path.join(tmp, 'slice'), HOOKS);
    queue = await startQueue(db.url, 'sae.train');
  });
  afterAll(async () => {
    // The first one was killed; the others exit cleanly.
    await workers.stop();
    await queue?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is resumed by the retry from its checkpoints: no gap or duplicate in the metrics, the recomputed points equal, each SAE equal to an uninterrupted run', async () => {
    // ReLU (a deterministic step), checkpoints every 25 steps, metrics every 5, density evaluations every 50 (no CE-loss: no model needed)
    const config = resolveTrainConfig([{ architecture: 'relu', dSae: 256, l1Coefficient: 1, lr: 1e-3, batchSize: 256, totalTokens: STEPS * 256, metricsEvery: 5, checkpointEvery: 25, evalEvery: 50, evalWindows: 0 }], 0);
    const first = await workers.start();
    // The uninterrupted run: `loupe train` (the same trainer) with the same config, beside the job.
    const whole = path.join(tmp, 'whole');
    const reference = loupe(['train', '--activations', extraction.path!, '--hook', HOOKS.join(','), '--out', whole, '--arch', 'relu', '--d-sae', '256', '--l1', '1', '--lr', '1e-3', '--batch', '256', '--tokens', String(STEPS * 256), '--metrics-every', '5', '--checkpoint-every', '25', '--eval-every', '50']);

    // Sent as the API sends it, with a 1 s retry delay instead of 5 s to keep the test short.
    const row = await insertTraining(db.db, { name: 'crash', extractionId: extraction.id, hookPoints: HOOKS, config });
    const jobId = await queue.send({ trainingId: row.id });
    await setTrainingJob(db.db, row.id, jobId);
    const ckpt = (hook: string) => path.join(trainingHookDir(dataDir, row.id, hook), CHECKPOINT_FILE);
    const checkpointStep = async (hook: string) => {
      const f = await openSafetensors(ckpt(hook)).catch(() => null);
      if (!f) return 0;
      await f.close();
      return Number(f.metadata.step);
    };
    // killed once points after the last checkpoint are stored (they are recomputed by the retry)
    await waitFor(
      'checkpoints past step 50 and points after them',
      async () => {
        const at = Math.min(...(await Promise.all(HOOKS.map(checkpointStep))));
        const last = Math.max(0, ...(await allMetrics(db.db, row.id)).map((p) => p.step));
        return (at >= 50 && last > at) || undefined;
      },
      60_000,
      10,
    );
    expect(await workers.kill(first)).toBe('SIGKILL');

    // What the dead worker left: checkpoints, the metric points up to where it died, the row running, the job active.
    const resumeAt = Math.min(...(await Promise.all(HOOKS.map(checkpointStep))));
    expect(resumeAt).toBeLessThan(STEPS);
    const before = await allMetrics(db.db, row.id);
    expect(Math.max(...before.map((p) => p.step))).toBeGreaterThanOrEqual(resumeAt);
    expect((await getTraining(db.db, row.id))?.status).toBe('running');
    expect(await queue.state(jobId)).toBe('active');

    // The next worker recovers the job; pg-boss hands it out again; it resumes.
    const second = await workers.start();
    const job = await queue.completed(jobId, 60_000);
    expect(job.retryCount).toBeGreaterThanOrEqual(1);
    expect(job.output).toMatchObject({ outcome: 'completed', steps: STEPS, resumedAt: resumeAt });
    expect(second.output()).toMatch(/resuming/);
    expect(await getTraining(db.db, row.id)).toMatchObject({ status: 'completed', error: null, progress: { step: STEPS, resumedAt: resumeAt } });

    // every point once, no gap; the ones recorded before the kill recomputed to the same values
    const after = await allMetrics(db.db, row.id);
    for (const hook of HOOKS) {
      const mine = after.filter((p) => p.hook === hook);
      expect(mine.filter((p) => p.train).map((p) => p.step)).toEqual(Array.from({ length: STEPS / 5 }, (_, i) => (i + 1) * 5));
      expect(mine.filter((p) => p.eval).map((p) => p.step)).toEqual(Array.from({ length: STEPS / 50 }, (_, i) => (i + 1) * 50));
    }
    const recomputed = before.filter((p) => p.step > resumeAt);
    expect(recomputed.length).toBeGreaterThan(0);
    const byKey = new Map(after.map((p) => [`${p.hook}@${p.step}`, p]));
    for (const p of before) expect(values(byKey.get(`${p.hook}@${p.step}`)!), `${p.hook} step ${p.step}`).toEqual(values(p));
    expect(recomputed.every((p) => byKey.get(`${p.hook}@${p.step}`)!.ts >= p.ts)).toBe(true);

    // the SAEs: recorded once, each equal to the uninterrupted run's
    const saes = await listSaes(db.db, { trainingId: row.id });
    expect(saes.map((s) => s.hookPoint).sort()).toEqual(HOOKS);
    const ref = await reference;
    expect(ref.code, ref.stderr).toBe(0);
    for (const hook of HOOKS) {
      const [a, b] = [await loadSae(path.join(whole, hook)), await loadSae(trainingHookDir(dataDir, row.id, hook))];
      for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expect(Buffer.from(b.weights[n].buffer).equals(Buffer.from(a.weights[n].buffer)), `${hook} ${n}`).toBe(true);
    }
    // and the reference's metrics are the job's
    const cli = ref.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; hook: string; step: number; loss: number });
    const cliLoss = cli.filter((l) => l.type === 'metrics').map((l) => [l.hook, l.step, l.loss]);
    expect(cliLoss).toEqual(after.filter((p) => p.train).map((p) => [p.hook, p.step, p.train!.loss]).sort((x, y) => (x[1] as number) - (y[1] as number) || String(x[0]).localeCompare(String(y[0]))));
  });
});
