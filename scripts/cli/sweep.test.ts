/**
 * `npm run -s loupe -- sweep create|show|cancel` against a real HTTP server
 * (the API app over a test database, served on a free port; no worker, so
 * sweeps stay queued and trials are made here as the coordinator makes
 * them): a space from --param or a file, the objective and constraints;
 * the trials' table with the best marked; a cancel; bad usage and the
 * server's refusals exit 2 naming the option.
 */
import { serve, type ServerType } from '@hono/node-server';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createdSweepSchema, sweepDetailSchema, sweepSchema } from '../../models/contracts/sweeps.ts';
import type { TrainMetricValues } from '../../models/contracts/trainings.ts';
import { logger } from '../../models/log.ts';
import { resolveTrainConfig } from '../../models/sae/config.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import { finishTrial, insertTrial } from '../../db/queries/sweeps.ts';
import { updateTraining, upsertMetrics } from '../../db/queries/trainings.ts';
import { queueTraining } from '../../server/artifacts/trainings.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { loupe } from '../testing/activations.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../testing/db.ts';
import { freePort } from '../testing/ports.ts';
import { insertCompletedDataset, tokenizeDemo } from '../testing/tokenized.ts';
import { completedExtraction } from '../testing/training.ts';

const HOOK = 'blocks.1.hook_resid_post';

describe('loupe sweep', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: ServerType;
  let base: string;
  let extraction: ExtractionRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-sweep-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_cli_sweep');
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(dataDir, 'datasets', 'slice');
    extraction = await completedExtraction(db.db, dataDir, await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 6000)), [HOOK]);
    t = await createTestApp(db, dataDir);
    const port = await freePort();
    server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await t.stop();
    await db.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const sweep = (args: string[]) => loupe(['sweep', ...args, '--server', base]);
  const file = (name: string, content: unknown) => {
    const p = path.join(tmp, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  };

  it('creates a sweep from --param specs, an objective and constraints; --space and --base read files; --json prints the answer', async () => {
    const r = await sweep([
      'create', '--extraction', extraction.id, '--name', 'cli',
      '--param', 'k=int:8:32:log', '--param', 'lr=float:1e-4:1e-2:log:3', '--param', 'architecture=choice:topk,batchtopk',
      '--objective', 'explainedVariance', '--constraint', 'l0<=20', '--constraint', 'deadFraction <= 0.5',
      '--method', 'random', '--budget', '8', '--parallelism', '3', '--seed', '7',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/sweep: queued "cli" \(random, 8 trials, 3 at once; max explained variance with L0 ≤ 20 and dead features ≤ 0.5\) as /);
    const id = r.stdout.trim();
    const d = sweepDetailSchema.parse(await (await t.request(`/api/sweeps/${id}`)).json());
    expect(d.spec).toMatchObject({
      hookPoint: HOOK,
      method: 'random',
      budget: 8,
      parallelism: 3,
      seed: 7,
      space: { k: { type: 'int', min: 8, max: 32, log: true }, lr: { type: 'float', min: 1e-4, max: 1e-2, log: true, points: 3 }, architecture: { type: 'choice', values: ['topk', 'batchtopk'] } },
      objective: { metric: 'explainedVariance', direction: 'maximize', constraints: [{ metric: 'l0', op: '<=', value: 20 }, { metric: 'deadFraction', op: '<=', value: 0.5 }] },
    });

    const space = file('space.json', { l1Coefficient: { type: 'choice', values: [1, 3] } });
    const baseConfig = file('base.json', { architecture: 'relu', batchSize: 256, totalTokens: 2560 });
    const j = await sweep(['create', '--extraction', extraction.id, '--space', space, '--base', baseConfig, '--objective', 'l0', '--method', 'grid', '--hook', HOOK, '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(createdSweepSchema.parse(JSON.parse(j.stdout)).sweep.spec).toMatchObject({ base: { architecture: 'relu', batchSize: 256, totalTokens: 2560 }, budget: 2, objective: { direction: 'minimize' } });
  });

  it('shows the trials as a table with the best marked, or as JSON; cancels a sweep', async () => {
    const r = await sweep(['create', '--extraction', extraction.id, '--name', 'shown', '--param', 'k=choice:8,16', '--objective', 'explainedVariance', '--constraint', 'l0<=12', '--method', 'grid']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    const values = (explainedVariance: number, l0: number): TrainMetricValues => ({ loss: 1, mse: 1, l1: 0, l0, explainedVariance, deadFraction: 0, denseFraction: 0, lr: 1e-3, l1Coefficient: 0, tokensPerSecond: 1 });
    for (const [number, k, ev] of [[0, 8, 0.61], [1, 16, 0.72]] as const) {
      const config = resolveTrainConfig([{ k, batchSize: 256, totalTokens: 2560 }], 0);
      const { training } = await queueTraining(t.deps, { name: `shown #${number}`, extractionId: extraction.id, hookPoints: [HOOK], config });
      await insertTrial(db.db, { sweepId: id, number, params: { k }, trainingId: training.id });
      await upsertMetrics(db.db, training.id, [{ hook: HOOK, step: 10, tokens: 2560, train: values(ev, k) }]);
      await updateTraining(db.db, training.id, { status: 'completed' });
      await finishTrial(db.db, id, number, { status: 'completed', objective: ev });
    }
    const shown = await sweep(['show', id]);
    expect(shown.code, shown.stderr).toBe(0);
    const lines = shown.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`shown (${id}): queued; grid, max explained variance with L0 ≤ 12`);
    expect(lines[1]).toBe('2/2 trials: 0 running, 2 completed, 0 pruned, 0 failed, 0 cancelled; best #0: 0.61');
    expect(lines.slice(3).map((l) => l.split(/\s+/).filter(Boolean))).toEqual([
      ['#', 'k', 'status', 'objective', 'step', 'reason'],
      ['*', '0', '8', 'completed', '0.61', '0/10'],
      ['1', '16', 'completed', '0.72', '0/10'],
    ]);
    const json = await sweep(['show', id, '--json']);
    expect(sweepDetailSchema.parse(JSON.parse(json.stdout)).trials.map((x) => x.best)).toEqual([true, false]);

    const cancelled = await sweep(['cancel', id]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(sweepSchema.parse(JSON.parse(cancelled.stdout)).status).toBe('cancelled');
    const again = await sweep(['cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is cancelled: only a queued or running sweep can be cancelled/);
  });

  it('exits 2 naming the option or file of bad usage, and of a request the server refuses', async () => {
    const ok = ['create', '--extraction', extraction.id, '--objective', 'explainedVariance'];
    const cases: [string[], RegExp][] = [
      [[...ok, '--param', 'k=int:16'], /--param k=int:16: MIN and MAX must be numbers/],
      [[...ok, '--param', 'k=int:8:32:lots'], /--param k=int:8:32:lots: "lots" is neither log nor a number of grid points/],
      [[...ok, '--param', 'k'], /--param k: not NAME=TYPE/],
      [[...ok, '--space', path.join(tmp, 'missing.json')], /--space: cannot read .*missing\.json \(ENOENT\)/],
      [[...ok, '--space', file('bad.json', '{k:')], /--space: .*bad\.json is not JSON/],
      [[...ok], /give --space FILE\.json or --param NAME=SPEC/],
      [[...ok, '--param', 'k=int:8:32', '--constraint', 'l0<40'], /--constraint "l0<40": expected METRIC<=NUMBER/],
      [[...ok, '--param', 'depth=int:1:3'], /--param: space\.depth: "depth" is not a training setting/],
      [[...ok, '--param', 'k=int:8:32', '--budget', 'many'], /--budget: "many" is not a whole number/],
      [[...ok, '--param', 'k=int:8:32', '--method', 'grid', '--budget', '40'], /--budget: budget: the grid has 5 points/],
      [['create', '--extraction', extraction.id, '--param', 'k=int:8:32'], /--objective METRIC is required/],
      [['create', '--extraction', extraction.id, '--param', 'k=int:8:32', '--objective', 'sparsity'], /--objective: objective\.metric: /],
      // refused by the server: k at its max against the smallest swept d_sae
      [[...ok, '--param', 'k=int:8:128', '--param', 'dSae=choice:512,64'], /--param: space\.k\.max: must be below d_sae \(64/],
      [['show', 'nope'], /show takes one sweep id/],
      [['cancel', extraction.id, '--json'], /--json is not an option of sweep cancel/],
      [['pause', extraction.id], /unknown action "pause"/],
    ];
    for (const [args, message] of cases) {
      const r = await sweep(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    const missing = await sweep(['show', '00000000-0000-4000-8000-000000000001']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No sweep 00000000-0000-4000-8000-000000000001/);
  }, 120_000);
});
