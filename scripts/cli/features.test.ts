/**
 * `npm run -s loupe -- features …` as processes. A small TopK SAE trained on
 * the demo model's blocks.3.hook_resid_post over a slice of the demo dataset
 * and discovered through the API (in-process app and job runner, served on a
 * free port). `features discover` over the same folders, with no server,
 * gives the same labels, scores, frequencies and peak tokens as the API
 * stored; `features list|show|lens|correlations|ablate` go through the HTTP
 * API. Bad usage exits 2 naming the option and writes no file; a failure
 * mid-run exits 1 and leaves no file either.
 */
import { serve, type ServerType } from '@hono/node-server';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../models/config.ts';
import {
  ablationSchema,
  correlationsSchema,
  discoverySchema,
  featureDetailSchema,
  featureListItemSchema,
  featureListSchema,
  logitLensSchema,
  type FeatureListItem,
} from '../../models/contracts/features.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { createEvents } from '../../db/events.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';
import type { SaeRow } from '../../db/queries/saes.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { featuresAnalyze } from '../../workers/features-analyze.ts';
import { featuresDiscover } from '../../workers/features-discover.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';
import { loupe } from '../testing/activations.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../testing/db.ts';
import { discoveryEnded, trainedSae } from '../testing/features.ts';
import { freePort } from '../testing/ports.ts';
import { insertCompletedDataset, tokenizeDemo } from '../testing/tokenized.ts';
import { completedExtraction } from '../testing/training.ts';

const HOOK = 'blocks.3.hook_resid_post';

interface Line {
  index: number;
  label: string;
  kind: string;
  score: number;
  frequency: number;
  maxActivation: number;
  meanActivation: number;
  topTokens: { token: number; text: string; count: number }[];
  histogram: { edges: number[]; counts: number[] };
  examples: { rank: number; maxValue: number; position: number; start: number; tokens: { id: number; text: string; value: number }[] }[];
}
const lines = (s: string): Line[] =>
  s
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

describe('loupe features', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let server: ServerType;
  let base: string;
  let extraction: ExtractionRow;
  let sae: SaeRow;
  let all: FeatureListItem[];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-features-'));
  const dataDir = path.join(tmp, 'data');
  const slice = path.join(tmp, 'slice');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_cli_features');
    await registerDemoModel(db.db, logger('test'));
    const dataset = await insertCompletedDataset(db.db, slice, await tokenizeDemo(slice, 8000));
    extraction = await completedExtraction(db.db, dataDir, dataset, [HOOK], { dtype: 'fp32', storage: 'f32', contextLength: 64, batchSize: 8, tokenBudget: 96 * 64, stride: null, keepBos: false, prependBos: null, windowsPerShard: 16 });
    sae = await trainedSae(db.db, dataDir, extraction, HOOK);
    t = await createTestApp(db, dataDir, { analysisWaitMs: 60_000 });
    runner = await startJobRunner({
      boss: t.boss,
      database: db,
      events: createEvents(db.pool),
      config: loadConfig({ DATA_DIR: dataDir, LOUPE_DEVICE: 'cpu' }),
      kinds: [featuresDiscover, featuresAnalyze],
      log: logger('test-worker'),
      workerId: 'test-worker',
      pollingIntervalSeconds: 0.5,
    });
    const d = discoverySchema.parse(await (await t.request('/api/discoveries', { method: 'POST', body: JSON.stringify({ saeId: sae.id }) })).json());
    expect((await discoveryEnded(db.db, d.id)).status).toBe('completed');
    all = featureListSchema.parse(await (await t.request(`/api/features?sae=${sae.id}&sort=index&limit=200`)).json()).items;
    const port = await freePort();
    server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
  }, 240_000);

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const discoverArgs = (over: Record<string, string> = {}) => {
    const o: Record<string, string> = { sae: sae.path, activations: extraction.path!, dataset: slice, ...over };
    return ['features', 'discover', ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v])];
  };

  it('discover, with no server, finds what the API stored: labels, scores, frequencies, peak tokens, examples with token texts', async () => {
    const out = path.join(tmp, 'features.jsonl');
    const r = await loupe(discoverArgs({ out }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/features: 128 features of blocks\.3\.hook_resid_post over [\d,]+ rows in [\d.]+ s \([\d,]+ rows\/s\); \d+ never active; written to /);
    const got = lines(readFileSync(out, 'utf8'));
    expect(got.map((l) => l.index)).toEqual(all.map((f) => f.index));
    for (const [i, l] of got.entries()) {
      const api = all[i]!;
      expect(l.label).toBe(api.label);
      expect(l.score).toBeCloseTo(api.score!, 6);
      expect(l.frequency).toBeCloseTo(api.frequency, 6);
      expect(l.maxActivation).toBeCloseTo(api.maxActivation, 4);
      expect(l.topTokens).toEqual(api.topTokens);
    }
    // an example window: the dataset's tokens with the tokenizer's texts, the peak carrying the example's value
    const tok = await loadTokenizer(DEMO_MODEL_DIR);
    const busy = got.find((l) => l.examples.length === 10)!;
    const detail = featureDetailSchema.parse(await (await t.request(`/api/features/${sae.id}:${busy.index}`)).json());
    expect(busy.examples.map((e) => e.tokens.map((x) => x.id))).toEqual(detail.examples.map((e) => e.tokens.map((x) => x.id)));
    for (const e of busy.examples) {
      expect(e.tokens.map((x) => x.text)).toEqual(tok.tokenStrings(e.tokens.map((x) => x.id)));
      expect(e.tokens[e.position - e.start]!.value).toBeCloseTo(e.maxValue, 5);
    }

    // to stdout, with fewer examples and the tokenizer given
    const few = await loupe([...discoverArgs({ 'top-k': '3', model: DEMO_MODEL_DIR })]);
    expect(few.code, few.stderr).toBe(0);
    const fewLines = lines(few.stdout);
    expect(fewLines).toHaveLength(128);
    expect(Math.max(...fewLines.map((l) => l.examples.length))).toBe(3);
  }, 120_000);

  it('bad usage exits 2 naming the option, before any work, and writes no file', async () => {
    const otherHook = path.join(tmp, 'sae-other-hook');
    cpSync(sae.path, otherHook, { recursive: true });
    const cfg = JSON.parse(readFileSync(path.join(otherHook, 'cfg.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(otherHook, 'cfg.json'), JSON.stringify({ ...cfg, hook_name: 'blocks.1.hook_resid_post', metadata: { ...(cfg.metadata as object), hook_name: 'blocks.1.hook_resid_post' } }));
    const otherSlice = path.join(tmp, 'other-slice');
    await tokenizeDemo(otherSlice, 3000);
    const out = path.join(tmp, 'never.jsonl');
    const cases: [string[], RegExp][] = [
      [['features', 'discover', '--activations', extraction.path!, '--dataset', slice, '--out', out], /--sae DIR is required/],
      [discoverArgs({ 'top-k': '0', out }), /--top-k: .*(>=|at least|too small)/i],
      [discoverArgs({ 'top-k': 'many', out }), /--top-k: /],
      [discoverArgs({ left: '1000', out }), /--left: /],
      [discoverArgs({ activations: path.join(tmp, 'nowhere'), out }), /--activations: .*nowhere is not a folder/],
      [discoverArgs({ sae: otherHook, out }), /--activations: .* has no activations at blocks\.1\.hook_resid_post, the SAE's hook point \(it has blocks\.3\.hook_resid_post\)/],
      [discoverArgs({ dataset: otherSlice, out }), /--dataset: .* holds [\d]+ tokens .*the activations were extracted from [\d]+ tokens/],
      [discoverArgs({ dataset: tmp, out }), /--dataset: .* is not a tokenized dataset/],
      [discoverArgs({ out: path.join(tmp, 'no', 'such', 'f.jsonl') }), /--out: the folder .* does not exist/],
      [[...discoverArgs({ out }), '--bogus'], /Unknown option '--bogus'/],
      [['features'], /discover, list, show, lens, correlations or ablate\?/],
      [['features', 'frobnicate'], /unknown action "frobnicate"/],
      [['features', 'list', '--server', base], /--sae ID is required/],
      [['features', 'list', '--sae', sae.id, '--min-freq', '2', '--server', base], /--min-freq: /],
      [['features', 'list', '--sae', sae.id, '--sort', 'sideways', '--server', base], /--sort: /],
      [['features', 'list', '--sae', sae.id, '--server', 'ftp://x'], /--server: "ftp:\/\/x" is not an http/],
      [['features', 'show', 'abc', '--server', base], /"abc" is not a feature id/],
      [['features', 'show', '--server', base], /show takes one feature id/],
      [['features', 'lens', `${sae.id}:1`, '--k', '0', '--server', base], /--k: /],
      [['features', 'lens', `${sae.id}:1`, '--norm', 'final', '--server', base], /--norm: /],
      [['features', 'ablate', `${sae.id}:1`, '--mode', 'clamp', '--server', base], /--value: clamp needs a value/],
      [['features', 'ablate', `${sae.id}:1`, '--mode', 'scramble', '--server', base], /--mode: /],
    ];
    const results = await Promise.all(cases.map(([args]) => loupe(args)));
    for (const [i, r] of results.entries()) {
      expect(r.code, `${cases[i]![0].join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr, cases[i]![0].join(' ')).toMatch(cases[i]![1]);
      expect(r.stderr).toMatch(/usage: features discover/);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('a failure mid-run exits 1 and leaves neither the file nor a temporary one', async () => {
    const broken = path.join(tmp, 'broken-acts');
    cpSync(extraction.path!, broken, { recursive: true });
    const shards = readdirSync(path.join(broken, HOOK)).filter((f) => f.endsWith('.safetensors')).sort();
    truncateSync(path.join(broken, HOOK, shards.at(-1)!), 100);
    const dir = path.join(tmp, 'out-broken');
    mkdirSync(dir);
    const r = await loupe(discoverArgs({ activations: broken, out: path.join(dir, 'f.jsonl') }));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^loupe features: /m);
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('list, show, lens, correlations and ablate through the HTTP API', async () => {
    const best = await loupe(['features', 'list', '--sae', sae.id, '--sort', '-score', '--limit', '5', '--server', base]);
    expect(best.code, best.stderr).toBe(0);
    const items = best.stdout.trim().split('\n').map((l) => featureListItemSchema.parse(JSON.parse(l)));
    expect(items).toHaveLength(5);
    expect(items.map((f) => f.score)).toEqual([...all].sort((a, b) => b.score! - a.score! || a.index - b.index).slice(0, 5).map((f) => f.score));
    expect(best.stderr).toMatch(/features: 1–5 of 128/);

    const f = all.find((x) => x.frequency > 0 && x.topTokens.length > 0)!;
    const byToken = await loupe(['features', 'list', '--sae', sae.id, '--token', `#${f.topTokens[0]!.token}`, '--limit', '200'], { LOUPE_SERVER: base });
    expect(byToken.code, byToken.stderr).toBe(0);
    expect(byToken.stdout.trim().split('\n').map((l) => (JSON.parse(l) as FeatureListItem).index)).toContain(f.index);

    const id = `${sae.id}:${f.index}`;
    const show = await loupe(['features', 'show', id, '--server', base]);
    expect(show.code, show.stderr).toBe(0);
    expect(featureDetailSchema.parse(JSON.parse(show.stdout))).toMatchObject({ id, index: f.index, label: f.label, sae: { id: sae.id, hookPoint: HOOK } });

    const lens = await loupe(['features', 'lens', id, '--k', '5', '--server', base]);
    expect(lens.code, lens.stderr).toBe(0);
    const l = logitLensSchema.parse(JSON.parse(lens.stdout));
    expect(l.norm).toBe('weight');
    expect(l.top).toHaveLength(5);
    expect(l.top[0]!.value).toBeGreaterThanOrEqual(l.top[4]!.value);
    const raw = await loupe(['features', 'lens', id, '--k', '5', '--norm', 'none', '--server', base]);
    expect(raw.code, raw.stderr).toBe(0);
    expect(logitLensSchema.parse(JSON.parse(raw.stdout)).norm).toBe('none');

    const corr = await loupe(['features', 'correlations', id, '--k', '3', '--server', base]);
    expect(corr.code, corr.stderr).toBe(0);
    expect(correlationsSchema.parse(JSON.parse(corr.stdout)).positive.length).toBeLessThanOrEqual(3);

    const abl = await loupe(['features', 'ablate', id, '--examples', '2', '--server', base]);
    expect(abl.code, abl.stderr).toBe(0);
    const a = ablationSchema.parse(JSON.parse(abl.stdout));
    expect(a.contexts.length).toBeGreaterThanOrEqual(1);
    expect(a.contexts.length).toBeLessThanOrEqual(2);
    // asked again: the cached answer
    const again = ablationSchema.parse(JSON.parse((await loupe(['features', 'ablate', id, '--examples', '2', '--server', base])).stdout));
    expect(again).toMatchObject({ cached: true, lossAfter: a.lossAfter });

    const missing = await loupe(['features', 'show', `${sae.id}:99999`, '--server', base]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/loupe features: .*99999/);
    const down = await loupe(['features', 'show', id, '--server', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+ .*is Loupe running\?/);
  }, 180_000);
});
