/**
 * `sae.train` end to end: a real server process and a real worker process
 * against one PostgreSQL, the demo model's activations at two hook points
 * (extracted in-process into the server's DATA_DIR). One training trains an
 * SAE per hook: metric points every N steps stored without a gap and live on
 * `training/{id}`, evaluations with the density histogram and CE-loss
 * recovered, the SAEs recorded and exported with `loupe sae export` in
 * SAELens layout. A second training waits in the queue (one training at a
 * time per worker) with its position; a pause ends the job with checkpoints,
 * a resume continues with the step numbers continuous, and a stop saves the
 * SAE from the current weights. sae-train-resume.e2e.test.ts kills a worker.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSchema } from '../models/contracts/api.ts';
import {
  createdTrainingSchema,
  metricsPageSchema,
  saeListSchema,
  trainingControlResultSchema,
  trainingDetailSchema,
  trainingSchema,
  type MetricPoint,
  type Training,
  type TrainingEvent,
} from '../models/contracts/trainings.ts';
import { logger } from '../models/log.ts';
import { loadSae } from '../models/sae/saelens.ts';
import type { ExtractionRow } from '../db/queries/extractions.ts';
import { loupe } from '../scripts/testing/activations.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { startStack, type Stack } from '../scripts/testing/stack.ts';
import { demoExtraction } from '../scripts/testing/training.ts';
import { registerDemoModel } from './demo-model.ts';

const HOOKS = ['blocks.1.hook_resid_post', 'blocks.3.hook_resid_post'];
const steps = (every: number, last: number) => Array.from({ length: last / every }, (_, i) => (i + 1) * every);

describe('sae.train through real processes', () => {
  let db: TestDatabase;
  let stack: Stack;
  let extraction: ExtractionRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-train-e2e-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_train_e2e');
    await registerDemoModel(db.db, logger('test'));
    extraction = await demoExtraction(db.db, dataDir, path.join(tmp, 'slice'), HOOKS);
    stack = await startStack({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu', SAE_TRAIN_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const start = async (body: Record<string, unknown>) => {
    const res = await stack.api('/api/trainings', { method: 'POST', body: JSON.stringify({ extractionId: extraction.id, ...body }) });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    const created = createdTrainingSchema.parse(json);
    stack.subscribe(`training/${created.training.id}`);
    return created;
  };
  const get = async (id: string) => trainingSchema.parse(await (await stack.api(`/api/trainings/${id}`)).json());
  const until = (id: string, check: (t: Training) => boolean, what: string, timeoutMs = 30_000) =>
    waitFor(`training ${id} ${what}`, async () => {
      const t = await get(id);
      if (t.status === 'failed') throw new Error(`failed: ${t.error}`);
      return check(t) ? t : undefined;
    }, timeoutMs, 50);
  const control = async (id: string, action: string) => {
    const res = await stack.api(`/api/trainings/${id}/${action}`, { method: 'POST' });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(202);
    return trainingControlResultSchema.parse(json);
  };
  const metrics = async (id: string, hook?: string): Promise<MetricPoint[]> =>
    metricsPageSchema.parse(await (await stack.api(`/api/trainings/${id}/metrics?limit=10000${hook ? `&hook=${hook}` : ''}`)).json()).points;
  const events = (id: string) => stack.events<TrainingEvent>(`training/${id}`);

  it('trains an SAE per hook: metrics stored every N steps and live, evaluations with density and CE-loss recovered, the SAEs recorded and exported in SAELens layout', async () => {
    const { training, job } = await start({
      hookPoints: HOOKS,
      config: { architecture: 'topk', k: 16, expansionFactor: 2, lr: 1e-3, batchSize: 256, totalTokens: 40 * 256, metricsEvery: 5, checkpointEvery: 20, evalEvery: 20, evalWindows: 2 },
    });
    const done = await until(training.id, (t) => t.status === 'completed', 'to complete');
    expect(done).toMatchObject({ stopped: false, error: null, control: null, progress: { status: 'completed', phase: 'done', step: 40, totalSteps: 40, tokens: 40 * 256, etaSeconds: 0, resumedAt: 0 } });
    expect(done.progress!.checkpoints.map((c) => [c.hook, c.step]).sort()).toEqual(HOOKS.map((h) => [h, 40]));
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    // where it ran: the steps, and the CE-loss evaluator's model (LOUPE_DEVICE=cpu: the CPU, no fallback), in the row and its progress
    const cpu = { requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null };
    expect(done.device).toEqual({ sae: cpu, model: cpu });
    expect(done.progress!.device).toEqual({ sae: cpu, model: cpu });

    // the history: every 5 steps per hook, evaluations every 20
    for (const hook of HOOKS) {
      const points = await metrics(training.id, hook);
      expect(points.filter((p) => p.train).map((p) => p.step)).toEqual(steps(5, 40));
      const evals = points.filter((p) => p.eval);
      expect(evals.map((p) => p.step)).toEqual([20, 40]);
      for (const { eval: e } of evals) {
        expect(e!.density.counts.reduce((a, b) => a + b, 0) + e!.density.dead).toBe(512);
        expect(e!.density.tokens).toBe(20 * 256);
        expect(e!.ceLossZero!).toBeGreaterThan(e!.ceLossClean!);
        expect(e!.ceLossRecovered!).toBeGreaterThan(0);
        expect(e!.ceLossRecovered!).toBeLessThanOrEqual(1.05);
      }
      const train = points.filter((p) => p.train).map((p) => p.train!);
      expect(train.at(-1)!.explainedVariance).toBeGreaterThan(train[0]!.explainedVariance);
      expect(train.at(-1)!.l0).toBeLessThanOrEqual(16);
    }

    // live: progress with rising steps and a rate, every metric point in batches, then completed
    await waitFor('the completed event', () => events(training.id).find((e) => e.type === 'progress' && e.status === 'completed'), 5000, 50);
    const progress = events(training.id).filter((e): e is Extract<TrainingEvent, { type: 'progress' }> => e.type === 'progress' && e.status === 'running' && e.phase === 'training');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.step).toBeGreaterThanOrEqual(progress[i - 1]!.step);
    expect(progress.some((e) => e.step > 0 && e.step < 40 && e.tokensPerSecond > 0 && e.etaSeconds !== null)).toBe(true);
    const live = events(training.id).flatMap((e) => (e.type === 'metrics' ? e.points : []));
    expect(live.filter((p) => p.train).length).toBe(2 * 8);
    expect(live.filter((p) => p.eval).map((p) => p.step).sort((a, b) => a - b)).toEqual([20, 20, 40, 40]);
    // (the 250 ms batching itself is the throttle's, tested in models/transfer.test.ts: arrival times of
    // NOTIFY deliveries on a loaded machine say nothing about it)

    // the SAEs: recorded with their metrics, shown in the detail
    const saes = saeListSchema.parse(await (await stack.api(`/api/saes?trainingId=${training.id}`)).json()).saes;
    expect(saes.map((s) => s.hookPoint).sort()).toEqual(HOOKS);
    for (const s of saes) {
      expect(s).toMatchObject({ trainingId: training.id, architecture: 'topk', dIn: 256, dSae: 512, k: 16, path: path.join(dataDir, 'saes', training.id, s.hookPoint), metrics: { step: 40, stopped: false, eval: { ceLossRecovered: expect.any(Number) } } });
      expect(s.metrics!.train!.explainedVariance).toBeGreaterThan(0);
    }
    const detail = trainingDetailSchema.parse(await (await stack.api(`/api/trainings/${training.id}`)).json());
    expect(detail.hooks.map((h) => [h.hook, h.dSae, h.checkpoint?.step, h.latest?.step, h.latestEval?.step, h.saeId !== null])).toEqual(HOOKS.map((h) => [h, 512, 40, 40, 40, true]));
    expect(jobSchema.parse(await (await stack.api(`/api/jobs/${job.id}`)).json())).toMatchObject({ state: 'completed', output: { outcome: 'completed', steps: 40, resumedAt: 0 } });

    // SAELens round trip: exported by the CLI, read by loadSae, the same bytes as the server's folder
    const sae = saes.find((s) => s.hookPoint === HOOKS[1])!;
    const out = path.join(tmp, 'exported');
    const r = await loupe(['sae', 'export', sae.id, out, '--server', stack.base]);
    expect(r.code, r.stderr).toBe(0);
    const back = await loadSae(out);
    expect(back.cfg).toMatchObject({ architecture: 'topk', k: 16, dIn: 256, dSae: 512, hookName: HOOKS[1], hookLayer: 3, modelName: expect.stringMatching(/tiny-gpt2/), contextSize: 64 });
    expect(readFileSync(path.join(out, 'sae_weights.safetensors')).equals(readFileSync(path.join(sae.path, 'sae_weights.safetensors')))).toBe(true);
  });

  it('a second training waits in the queue with its position; pause ends the job with checkpoints, resume continues with continuous steps, stop saves the SAE from the current weights', async () => {
    const config = { architecture: 'relu', dSae: 256, l1Coefficient: 1, lr: 1e-3, batchSize: 256, metricsEvery: 5, checkpointEvery: 50, evalEvery: 0, evalWindows: 0 };
    const a = await start({ hookPoints: [HOOKS[0]], name: 'a', config: { ...config, totalTokens: 300 * 256 } });
    const b = await start({ hookPoints: [HOOKS[1]], name: 'b', config: { ...config, totalTokens: 400 * 256 } });
    await until(a.training.id, (t) => t.status === 'running' && (t.progress?.step ?? 0) >= 20, 'to pass step 20');
    // one training at a time on this worker: b waits, first in line
    expect(await get(b.training.id)).toMatchObject({ status: 'queued', queuePosition: 1 });

    const asked = await control(a.training.id, 'pause');
    expect(asked.training.control).toBe('pause');
    const paused = await until(a.training.id, (t) => t.status === 'paused', 'to pause');
    const at = paused.progress!.step;
    expect(at).toBeGreaterThan(20);
    expect(at).toBeLessThan(300);
    expect(paused).toMatchObject({ control: null, queuePosition: null, progress: { status: 'paused', checkpoints: [{ hook: HOOKS[0], step: at }] } });
    expect(jobSchema.parse(await (await stack.api(`/api/jobs/${a.job.id}`)).json())).toMatchObject({ state: 'completed', output: { paused: true, step: at } });

    // b runs now; a, resumed, waits behind it
    await until(b.training.id, (t) => t.status === 'running', 'to start');
    const resumed = await control(a.training.id, 'resume');
    expect(resumed.job).not.toBeNull();
    expect(resumed.training).toMatchObject({ status: 'queued', queuePosition: 1 });

    // stop b part way: completed, flagged, its SAE saved from the weights of the step it stopped at
    await until(b.training.id, (t) => (t.progress?.step ?? 0) >= 10, 'to pass step 10');
    await control(b.training.id, 'stop');
    const stopped = await until(b.training.id, (t) => t.status === 'completed', 'to stop');
    expect(stopped.stopped).toBe(true);
    const bStep = stopped.progress!.step;
    expect(bStep).toBeLessThan(400);
    const [bSae] = saeListSchema.parse(await (await stack.api(`/api/saes?trainingId=${b.training.id}`)).json()).saes;
    expect(bSae).toMatchObject({ hookPoint: HOOKS[1], metrics: { stopped: true, step: bStep } });
    expect((await loadSae(bSae!.path)).cfg).toMatchObject({ architecture: 'relu', dSae: 256, hookName: HOOKS[1] });
    // its history ends at the stop (the last, partial window reported at the stop step)
    const bSteps = (await metrics(b.training.id)).filter((p) => p.train).map((p) => p.step);
    expect(bSteps.at(-1)).toBe(bStep);
    expect(bSteps.slice(0, -1)).toEqual(steps(5, Math.floor((bStep - 1) / 5) * 5));

    // a finishes from its checkpoint: every 5th step once, no gap at the pause
    const done = await until(a.training.id, (t) => t.status === 'completed', 'to complete');
    expect(done).toMatchObject({ stopped: false, progress: { step: 300, resumedAt: at } });
    expect((await metrics(a.training.id)).filter((p) => p.train).map((p) => p.step)).toEqual(steps(5, 300));
    const jobA = jobSchema.parse(await (await stack.api(`/api/jobs/${resumed.job!.id}`)).json());
    expect(jobA).toMatchObject({ state: 'completed', output: { outcome: 'completed', steps: 300, resumedAt: at } });
  });
});
