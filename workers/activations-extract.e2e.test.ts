/**
 * `activations.extract` end to end: a real server process and a real worker
 * process against one PostgreSQL, the demo model, and a slice of the demo
 * dataset tokenized with its tokenizer. The stored activations equal
 * `loupe forward` on the same window's tokens; progress arrives live on
 * `extraction/{id}`, with where the model ran (also in the row, and the
 * worker's device in `GET /api/health`); a cancel stops the run and deletes
 * its folder.
 * activations-extract-resume.e2e.test.ts kills a worker mid-run.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../models/activations/store.ts';
import { createdExtractionSchema, extractionDetailSchema, extractionSchema, type Extraction } from '../models/contracts/extractions.ts';
import { healthSchema, jobSchema } from '../models/contracts/api.ts';
import type { ExtractionProgress } from '../models/contracts/topics.ts';
import { logger } from '../models/log.ts';
import { DEMO_MODEL_DIR } from '../models/model-files.ts';
import type { DatasetRow } from '../db/queries/datasets.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { datasetTokens, forwardRows, maxDiff, readHookRows } from '../scripts/testing/activations.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { waitFor } from '../scripts/testing/processes.ts';
import { startStack, type Stack } from '../scripts/testing/stack.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { registerDemoModel } from './demo-model.ts';

const BOS = 0;

describe('activations.extract through real processes', () => {
  let db: TestDatabase;
  let stack: Stack;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-extract-e2e-'));
  const dataDir = path.join(tmp, 'data');
  let dataset: DatasetRow;

  beforeAll(async () => {
    db = await createTestDatabase('loupe_extract_e2e');
    // the workers register it too; the dataset row needs it first
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(tmp, 'slice');
    dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 20_000));
    stack = await startStack({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOUPE_SAMPLER: '0', LOUPE_DEVICE: 'cpu' });
  });
  afterAll(async () => {
    // Clean exits: the worker's runner, pg-boss and the server stop within the grace period.
    await stack?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const start = async (body: Record<string, unknown>) => {
    const res = await stack.api('/api/extractions', { method: 'POST', body: JSON.stringify({ modelId: DEMO_MODEL_ID, datasetId: dataset.id, ...body }) });
    expect(res.status).toBe(202);
    const created = createdExtractionSchema.parse(await res.json());
    stack.subscribe(`extraction/${created.extraction.id}`);
    return created;
  };
  const get = async (id: string) => extractionSchema.parse(await (await stack.api(`/api/extractions/${id}`)).json());
  const until = (id: string, statuses: Extraction['status'][], timeoutMs = 20_000) =>
    waitFor(`extraction ${id} to be ${statuses.join(' or ')}`, async () => {
      const e = await get(id);
      return statuses.includes(e.status) ? e : undefined;
    }, timeoutMs, 100);
  const events = (id: string) => stack.events<ExtractionProgress>(`extraction/${id}`);
  const storeOf = (id: string) => path.join(dataDir, 'activations', id);

  it('stores activations equal to `loupe forward` on the same tokens, with progress live on extraction/{id} and statistics at the end', async () => {
    const hooks = ['blocks.1.hook_resid_post', 'blocks.3.hook_mlp_out'];
    const T = 64;
    const { extraction, job } = await start({ hookPoints: hooks, contextLength: T, batchSize: 4, tokenBudget: 48 * T, windowsPerShard: 16 });
    const done = await until(extraction.id, ['completed', 'failed']);
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ status: 'completed', progress: { status: 'completed', phase: 'done', tokensDone: 48 * T, tokensTotal: 48 * T, windowsDone: 48, shards: 3, etaSeconds: 0 } });
    expect(Object.keys(done.stats!).sort()).toEqual([...hooks].sort());
    // where the model ran: the row's device and its progress (LOUPE_DEVICE=cpu: the CPU, no fallback)
    const cpu = { requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', adapter: null, fallbackAdapter: false, fallbackReason: null };
    expect(done.device).toEqual({ model: cpu });
    expect(done.progress!.device).toEqual({ model: cpu });
    expect(done.stats![hooks[0]!]!.meanNorm).toBeGreaterThan(0);

    // the detail: what the store holds
    const detail = extractionDetailSchema.parse(await (await stack.api(`/api/extractions/${extraction.id}`)).json());
    expect(detail.manifest).toMatchObject({ complete: true, windowsDone: 48, tokensDone: 48 * T });
    expect(detail.manifest!.hooks.map((h) => [h.hook, h.rowShape, h.shards])).toEqual([
      [hooks[0], [256], 3],
      [hooks[1], [256], 3],
    ]);

    // rows read back from the shards against `loupe forward` on windows 5 and 40
    const dir = storeOf(extraction.id);
    const tokens = datasetTokens(dataset.path!, 0, 48 * T);
    const stored = await Promise.all(hooks.map((h) => readHookRows(dir, h)));
    expect(stored[0]!.positions).toEqual(tokens.flatMap((id, i) => (id === BOS ? [] : [BigInt(i)])));
    const windows = [5, 40];
    const refs = await Promise.all(windows.map((w) => forwardRows(DEMO_MODEL_DIR, tokens.slice(w * T, (w + 1) * T), hooks, path.join(tmp, `fwd-${w}.safetensors`))));
    for (const [n, w] of windows.entries()) {
      const ids = tokens.slice(w * T, (w + 1) * T);
      const ref = refs[n]!;
      for (const [k, hook] of hooks.entries()) {
        const { rows, positions } = stored[k]!;
        for (let t = 0; t < T; t++) {
          if (ids[t] === BOS) continue;
          const r = positions.indexOf(BigInt(w * T + t));
          expect(maxDiff(rows[r]!, ref[hook]![t]!), `${hook} window ${w} token ${t}`).toBeLessThan(1e-4);
        }
      }
    }

    // live: several running events with tokens rising and a rate, then completed
    await waitFor('the completed event', () => events(extraction.id).find((e) => e.status === 'completed'), 5000, 50);
    const running = events(extraction.id).filter((e) => e.status === 'running' && e.phase === 'extracting');
    expect(running.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < running.length; i++) expect(running[i]!.tokensDone).toBeGreaterThanOrEqual(running[i - 1]!.tokensDone);
    expect(running.some((e) => e.tokensDone > 0 && e.tokensDone < 48 * T && e.tokensPerSecond > 0 && e.etaSeconds !== null)).toBe(true);
    // live too, once the model's session is made (before the first batch)
    expect(running.at(-1)!.device?.model?.provider).toBe('cpu');
    // the worker's heartbeat: its setting, and no probe of adapters under LOUPE_DEVICE=cpu
    const health = healthSchema.parse(await (await stack.api('/api/health')).json());
    expect(health.workers.list.map((w) => [w.device, w.adapters, w.adaptersNote])).toEqual([['cpu', [], 'not probed: LOUPE_DEVICE=cpu']]);
    expect(health.adapters).toEqual([]);
    expect(jobSchema.parse(await (await stack.api(`/api/jobs/${job.id}`)).json())).toMatchObject({ state: 'completed', output: { windows: 48, resumedAtWindow: 0 } });
  });

  it('a cancel stops the run within a batch: cancelled, its folder deleted, the worker alive', async () => {
    const { extraction, job } = await start({ hookPoints: ['blocks.2.hook_resid_post'], contextLength: 32, batchSize: 4, tokenBudget: 32 * 600, windowsPerShard: 8 });
    const dir = storeOf(extraction.id);
    await waitFor('a shard', async () => ((await readManifest(dir).catch(() => null))?.windowsDone ?? 0) >= 8 || undefined, 20_000, 20);
    const res = await stack.api(`/api/extractions/${extraction.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(extractionSchema.parse(await res.json()).status).toBe('cancelled');
    await waitFor('the folder to go', () => !existsSync(dir) || undefined, 10_000, 50);
    await waitFor('the cancelled event', () => events(extraction.id).find((e) => e.status === 'cancelled'), 5000, 50);
    expect((await get(extraction.id)).status).toBe('cancelled');
    expect(jobSchema.parse(await (await stack.api(`/api/jobs/${job.id}`)).json()).state).toBe('cancelled');
    // nothing written after the folder went
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(dir)).toBe(false);
    const [worker] = stack.workers.all;
    expect(worker!.child.exitCode).toBeNull();
    expect(worker!.output()).toMatch(/cancelled/);
  });
});
