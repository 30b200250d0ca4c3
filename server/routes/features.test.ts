/**
 * The features API in-process, with a real pg-boss and the `features.*`
 * jobs run by an in-process job runner: a small TopK SAE trained on the demo
 * model's activations (blocks.3.hook_resid_post), discovered through
 * `POST /api/discoveries`. Then: validation errors naming the field and
 * 404s; search by label, by token (display string and `#id`), by frequency
 * range, favourites, each sort and pages that tile the order, all checked
 * against the whole list filtered here; the detail with token texts; edits;
 * the three analyses cold (computed by a job the request waits for) then
 * cached with the same values, a 202 when the wait runs out, expiry and
 * pruning; settings never returning the key, an endpoint tried before it
 * is saved, and one feature relabelled by it (a local OpenAI-compatible
 * server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import {
  ablationSchema,
  analysisPendingSchema,
  correlationsSchema,
  discoverySchema,
  featureDetailSchema,
  featureListSchema,
  logitLensSchema,
  settingsSchema,
  type FeatureListItem,
} from '../../models/contracts/features.ts';
import { loadConfig } from '../../models/config.ts';
import { logger } from '../../models/log.ts';
import { tokenKey } from '../../models/features/label.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { createEvents } from '../../db/events.ts';
import { pruneAnalysisCache } from '../../db/queries/analysis.ts';
import { insertSae, type SaeRow } from '../../db/queries/saes.ts';
import { createApp } from '../app.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { discoveryEnded, trainedSae } from '../../scripts/testing/features.ts';
import { labelFor, startLlmServer } from '../../scripts/testing/llm-server.ts';
import { insertCompletedDataset, tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { completedExtraction } from '../../scripts/testing/training.ts';
import { waitFor } from '../../scripts/testing/processes.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { featuresAnalyze } from '../../workers/features-analyze.ts';
import { featuresDiscover } from '../../workers/features-discover.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';
import type { ExtractionRow } from '../../db/queries/extractions.ts';

const HOOK = 'blocks.3.hook_resid_post';

describe('features API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let extraction: ExtractionRow;
  let sae: SaeRow;
  let all: FeatureListItem[];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-features-api-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_features_api');
    await registerDemoModel(db.db, logger('test'));
    const dir = path.join(tmp, 'slice');
    const dataset = await insertCompletedDataset(db.db, dir, await tokenizeDemo(dir, 8000));
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
    const res = await t.request('/api/discoveries', { method: 'POST', body: JSON.stringify({ saeId: sae.id }) });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(202);
    const d = discoverySchema.parse(body);
    expect(d).toMatchObject({ saeId: sae.id, extractionId: extraction.id, status: 'queued', settings: { topK: 10, left: 16, right: 4 } });
    const done = await discoveryEnded(db.db, d.id);
    expect(done.status, done.error ?? '').toBe('completed');
    // where the encoder ran, in the row (LOUPE_DEVICE=cpu: the CPU, no fallback)
    expect(done.device?.sae).toMatchObject({ requested: 'cpu', provider: 'cpu', fallbackReason: null });
    all = featureListSchema.parse(await (await t.request(`/api/features?sae=${sae.id}&sort=index&limit=200`)).json()).items;
  }, 240_000);

  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const get = async (p: string) => {
    const res = await t.request(p);
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const bad = async (p: string, init?: RequestInit) => {
    const res = await t.request(p, init);
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(400);
    return (errorBodySchema.parse(body).error.details as { field: string }[]).map((d) => d.field);
  };
  const list = async (query: string) => {
    const { status, body } = await get(`/api/features?sae=${sae.id}&${query}`);
    expect(status, JSON.stringify(body)).toBe(200);
    return featureListSchema.parse(body);
  };

  it('refuses bad input naming the field, and answers 404 for what does not exist', async () => {
    const post = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body) });
    expect(await bad('/api/discoveries', post({}))).toEqual(['saeId']);
    expect(await bad('/api/discoveries', post({ saeId: sae.id, topK: 0 }))).toEqual(['topK']);
    expect(await bad('/api/discoveries', post({ saeId: '00000000-0000-4000-8000-000000000001' }))).toEqual(['saeId']);
    // an SAE at another hook, not trained here: no default extraction, and this one lacks its hook
    const other = await insertSae(db.db, { id: '00000000-0000-4000-8000-0000000000aa', name: 'elsewhere', trainingId: null, modelId: null, hookPoint: 'blocks.1.hook_resid_post', architecture: 'topk', dIn: 256, dSae: 16, cfg: {}, metrics: null, path: path.join(tmp, 'nowhere') });
    expect(await bad('/api/discoveries', post({ saeId: other.id }))).toEqual(['extractionId']);
    const lacking = await t.request('/api/discoveries', post({ saeId: other.id, extractionId: extraction.id }));
    const lackingBody = errorBodySchema.parse(await lacking.json());
    expect(lacking.status).toBe(400);
    expect(lackingBody.error.message).toMatch(/no activations at blocks\.1\.hook_resid_post/);

    expect(await bad('/api/features')).toEqual(['sae']);
    expect(await bad(`/api/features?sae=${sae.id}&sort=loudness`)).toEqual(['sort']);
    expect(await bad(`/api/features?sae=${sae.id}&limit=500`)).toEqual(['limit']);
    expect(await bad(`/api/features?sae=${sae.id}&minFreq=2`)).toEqual(['minFreq']);
    expect(await bad(`/api/features?sae=${sae.id}&minFreq=0.5&maxFreq=0.1`)).toEqual(['maxFreq']);
    expect(await bad(`/api/features/${sae.id}`)).toEqual(['id']);
    expect(await bad(`/api/features/${sae.id}:3`, { method: 'PATCH', body: JSON.stringify({ favourite: 'yes' }) })).toEqual(['favourite']);
    expect(await bad(`/api/features/${sae.id}:3`, { method: 'PATCH', body: JSON.stringify({}) })).toEqual(['(root)']);
    expect(await bad(`/api/features/${sae.id}:3/ablation?mode=clamp`)).toEqual(['value']);
    expect(await bad(`/api/features/${sae.id}:3/logit-lens?k=0`)).toEqual(['k']);
    expect(await bad(`/api/features/${sae.id}:3/logit-lens?norm=final`)).toEqual(['norm']);

    expect((await get('/api/features?sae=00000000-0000-4000-8000-000000000001')).status).toBe(404);
    expect((await get(`/api/features/${sae.id}:999`)).status).toBe(404);
    expect((await get(`/api/features/${sae.id}:999/logit-lens`)).status).toBe(404);
    expect((await get('/api/features/00000000-0000-4000-8000-000000000001:1')).status).toBe(404);
    expect((await get('/api/discoveries/00000000-0000-4000-8000-000000000001')).status).toBe(404);
  });

  it('lists every feature with heuristic labels and peak tokens', () => {
    expect(all.map((f) => f.index)).toEqual(Array.from({ length: sae.dSae }, (_, i) => i));
    const live = all.filter((f) => f.frequency > 0);
    expect(live.length).toBeGreaterThan(sae.dSae / 2);
    for (const f of live) {
      expect(f).toMatchObject({ id: `${sae.id}:${f.index}`, labelSource: 'heuristic', favourite: false, hasNotes: false });
      expect(f.score).toBeGreaterThan(0);
      expect(f.topTokens.length).toBeGreaterThan(0);
      expect(f.topTokens.length).toBeLessThanOrEqual(3);
      expect(f.topTokens.map((x) => x.count)).toEqual([...f.topTokens.map((x) => x.count)].sort((a, b) => b - a));
    }
  });

  it('sorts each way in SQL, in pages that tile the order', async () => {
    const by = (key: (f: FeatureListItem) => number, desc: boolean) => [...all].sort((a, b) => (desc ? key(b) - key(a) || b.index - a.index : key(a) - key(b) || a.index - b.index)).map((f) => f.index);
    expect((await list('sort=frequency&limit=200')).items.map((f) => f.index)).toEqual(by((f) => f.frequency, false));
    expect((await list('sort=-max&limit=200')).items.map((f) => f.index)).toEqual(by((f) => f.maxActivation, true));
    expect((await list('limit=200')).items.map((f) => f.index)).toEqual(by((f) => f.score ?? 0, true));
    const pages = [];
    for (let offset = 0; offset < sae.dSae; offset += 50) pages.push(...(await list(`sort=-frequency&limit=50&offset=${offset}`)).items.map((f) => f.index));
    expect(pages).toEqual(by((f) => f.frequency, true));
    expect((await list('offset=1000')).items).toEqual([]);
  });

  it('searches by label, token and frequency range like a filter of the whole list', async () => {
    const f = all.find((x) => x.labelSource === 'heuristic' && x.frequency > 0 && /[A-Za-z]{3}/.test(x.label!))!;
    const word = /[A-Za-z]{3,}/.exec(f.label!)![0]!;
    const byLabel = await list(`q=${encodeURIComponent(word.toUpperCase())}&limit=200`);
    // every label that has the text, and besides them only features whose top examples peak on the word itself
    const labelled = all.filter((x) => x.label?.toLowerCase().includes(word.toLowerCase())).map((x) => x.index);
    expect(byLabel.items.map((x) => x.index)).toEqual(expect.arrayContaining(labelled));
    for (const x of byLabel.items.filter((y) => !labelled.includes(y.index)).slice(0, 5)) {
      const d = featureDetailSchema.parse((await get(`/api/features/${x.id}`)).body);
      expect(d.examples.some((e) => tokenKey(e.tokens[e.position - e.start]!.text) === word.toLowerCase())).toBe(true);
    }
    expect(byLabel.total).toBe(byLabel.items.length);
    // a label that does not say it: the word of the feature's peak token still finds it (the search box's "e.g. moses")
    const peak = f.topTokens.find((tk) => /^\s?[A-Za-z]{3,}$/.test(tk.text));
    if (peak) {
      await t.request(`/api/features/${f.id}`, { method: 'PATCH', body: JSON.stringify({ label: 'a label without it' }) });
      expect((await list(`q=${encodeURIComponent(peak.text.trim().toLowerCase())}&limit=200`)).items.map((x) => x.index)).toContain(f.index);
      expect((await list(`q=${encodeURIComponent(`${peak.text.trim()} and more`)}&limit=200`)).items.map((x) => x.index)).not.toContain(f.index);
      await t.request(`/api/features/${f.id}`, { method: 'PATCH', body: JSON.stringify({ label: null }) });
    }

    // a token as the tokenizer shows it: features whose top examples peak on it (their peak tokens, checked on the details)
    const token = f.topTokens[0]!;
    const byToken = await list(`token=${encodeURIComponent(token.text)}&limit=200`);
    expect(byToken.items.map((x) => x.index)).toContain(f.index);
    const byId = await list(`token=%23${token.token}&limit=200`);
    expect(byId.items.map((x) => x.index)).toEqual(byToken.items.map((x) => x.index));
    for (const x of byToken.items.slice(0, 5)) {
      const d = featureDetailSchema.parse((await get(`/api/features/${x.id}`)).body);
      expect(d.examples.some((e) => e.tokens.find((tk) => tk.id === token.token) && e.tokens[e.position - e.start]!.id === token.token)).toBe(true);
    }
    expect((await list('token=%23999999')).total).toBe(0);
    expect((await list(`token=${encodeURIComponent('no such token, surely')}`)).total).toBe(0);

    const freqs = all.map((x) => x.frequency).sort((a, b) => a - b);
    const [lo, hi] = [freqs[Math.floor(freqs.length / 4)]!, freqs[Math.floor((3 * freqs.length) / 4)]!];
    const band = await list(`minFreq=${lo}&maxFreq=${hi}&sort=index&limit=200`);
    expect(band.items.map((x) => x.index)).toEqual(all.filter((x) => x.frequency >= lo && x.frequency <= hi).map((x) => x.index));
  });

  it('shows a feature with every token\'s text and activation, and edits label, favourite and notes', async () => {
    const f = [...all].sort((a, b) => b.frequency - a.frequency)[2]!;
    const d = featureDetailSchema.parse((await get(`/api/features/${f.id}`)).body);
    const tok = await loadTokenizer(DEMO_MODEL_DIR);
    expect(d).toMatchObject({ id: f.id, sae: { id: sae.id, hookPoint: HOOK, dSae: sae.dSae }, heuristic: { label: f.label, score: f.score } });
    expect(d.examples.length).toBe(10);
    expect(d.histogram.counts.length + 1).toBe(d.histogram.edges.length);
    for (const e of d.examples) {
      expect(e.tokens.map((x) => x.text)).toEqual(tok.tokenStrings(e.tokens.map((x) => x.id)));
      expect(e.tokens[e.position - e.start]!.value).toBeCloseTo(e.maxValue, 5);
      expect(Math.max(...e.tokens.map((x) => x.value))).toBeCloseTo(e.maxValue, 5);
    }
    expect(d.examples.map((e) => e.maxValue)).toEqual([...d.examples.map((e) => e.maxValue)].sort((a, b) => b - a));

    const patch = async (body: unknown) => {
      const res = await t.request(`/api/features/${f.id}`, { method: 'PATCH', body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      return featureDetailSchema.parse(await res.json());
    };
    expect(await patch({ label: 'Debian package names', favourite: true, notes: 'fires inside paths' })).toMatchObject({ label: 'Debian package names', labelSource: 'user', favourite: true, notes: 'fires inside paths', hasNotes: true });
    expect((await list('favourite=true')).items.map((x) => x.id)).toEqual([f.id]);
    expect((await list('q=debian%20package')).items.map((x) => x.id)).toEqual([f.id]);
    expect(await patch({ label: null, favourite: false })).toMatchObject({ label: f.label, labelSource: 'heuristic', favourite: false, notes: 'fires inside paths' });
    expect((await t.request(`/api/features/${sae.id}:999`, { method: 'PATCH', body: JSON.stringify({ favourite: true }) })).status).toBe(404);
  });

  it('answers each analysis cold through a job, then from the cache with the same values', async () => {
    const f = [...all].sort((a, b) => b.frequency - a.frequency)[1]!;
    const tok = await loadTokenizer(DEMO_MODEL_DIR);
    const cold = await get(`/api/features/${f.id}/logit-lens?k=7`);
    expect(cold.status, JSON.stringify(cold.body)).toBe(200);
    const lens = logitLensSchema.parse(cold.body);
    expect(lens.cached).toBe(false);
    expect(lens.norm).toBe('weight');
    expect(lens.top).toHaveLength(7);
    expect(lens.top.map((x) => x.text)).toEqual(tok.tokenStrings(lens.top.map((x) => x.token)));
    expect(lens.top[0]!.value).toBeGreaterThan(lens.bottom[0]!.value);
    const warm = logitLensSchema.parse((await get(`/api/features/${f.id}/logit-lens?k=7`)).body);
    expect(warm).toEqual({ ...lens, cached: true });
    // the other convention is its own cache entry, with its own values
    const raw = logitLensSchema.parse((await get(`/api/features/${f.id}/logit-lens?k=7&norm=none`)).body);
    expect(raw).toMatchObject({ norm: 'none', cached: false });
    expect(raw.top.map((x) => x.value)).not.toEqual(lens.top.map((x) => x.value));
    expect(logitLensSchema.parse((await get(`/api/features/${f.id}/logit-lens?norm=weight&k=7`)).body)).toEqual({ ...lens, cached: true });

    const corr = correlationsSchema.parse((await get(`/api/features/${f.id}/correlations?k=5`)).body);
    expect(corr.cached).toBe(false);
    expect(corr.rows).toBeGreaterThan(1000);
    expect(corr.positive.length).toBeGreaterThan(0);
    expect(corr.positive.every((c) => c.r > 0 && c.r <= 1 && c.feature !== f.index)).toBe(true);
    expect(corr.positive[0]!.label).toBe(all[corr.positive[0]!.feature]!.label);
    expect(corr.device?.sae).toMatchObject({ requested: 'cpu', provider: 'cpu' });
    expect(correlationsSchema.parse((await get(`/api/features/${f.id}/correlations?k=5`)).body)).toEqual({ ...corr, cached: true });

    const abl = ablationSchema.parse((await get(`/api/features/${f.id}/ablation?examples=3`)).body);
    expect(abl.cached).toBe(false);
    expect(abl.contexts).toHaveLength(3);
    expect(abl.deltaLoss.map((r) => r.length)).toEqual(abl.contexts.map((c) => c.tokens.length - 1));
    expect(abl.lossAfter).not.toBe(abl.lossBefore);
    expect(abl.perplexityBefore).toBeCloseTo(Math.exp(abl.lossBefore), 4);
    expect(abl.moved.length).toBe(10);
    expect(abl.moved.every((m) => m.row < 3 && m.text === tok.tokenStrings([m.token])[0])).toBe(true);
    expect(abl.device?.model).toMatchObject({ requested: 'cpu', provider: 'cpu', engine: 'onnxruntime', fallbackReason: null });
    expect(ablationSchema.parse((await get(`/api/features/${f.id}/ablation?examples=3`)).body)).toEqual({ ...abl, cached: true });
    // a clamp is its own entry
    const clamp = ablationSchema.parse((await get(`/api/features/${f.id}/ablation?examples=3&mode=clamp&value=${2 * f.maxActivation}`)).body);
    expect(clamp.cached).toBe(false);
    expect(clamp.lossAfter).not.toBeCloseTo(abl.lossAfter, 6);
  }, 180_000);

  it('answers 202 with the job when the wait runs out, and the same URL later has the result', async () => {
    const impatient = createApp({ ...t.deps, analysisWaitMs: 0 });
    const f = [...all].sort((a, b) => b.frequency - a.frequency)[4]!;
    const url = `/api/features/${f.id}/logit-lens?k=3`;
    const res = await impatient.request(url, { headers: { host: '127.0.0.1:8787' } });
    expect(res.status).toBe(202);
    const { jobId } = analysisPendingSchema.parse(await res.json());
    const later = await waitFor(
      'the analysis',
      async () => {
        const r = await impatient.request(url, { headers: { host: '127.0.0.1:8787' } });
        return r.status === 200 ? logitLensSchema.parse(await r.json()) : undefined;
      },
      60_000,
      100,
    );
    expect(later.cached).toBe(true);
    expect((await get(`/api/jobs/${jobId}`)).body).toMatchObject({ state: 'completed', kind: 'features.analyze' });
  }, 90_000);

  it('expires cached analyses: an expired one is computed again, and maintenance deletes it', async () => {
    const f = [...all].sort((a, b) => b.frequency - a.frequency)[0]!;
    const first = logitLensSchema.parse((await get(`/api/features/${f.id}/logit-lens?k=4`)).body);
    expect(logitLensSchema.parse((await get(`/api/features/${f.id}/logit-lens?k=4`)).body).cached).toBe(true);
    // the ANALYSIS_TTL_HOURS default, then past it
    const { rows } = await db.pool.query<{ ttl: number }>(`SELECT extract(epoch FROM expires_at - created_at) / 3600 AS ttl FROM analysis_cache WHERE key LIKE $1`, [`logit-lens:${sae.id}:${f.index}?k=4&norm=weight`]);
    expect(Number(rows[0]!.ttl)).toBeCloseTo(168, 3);
    await db.pool.query(`UPDATE analysis_cache SET expires_at = now() - interval '1 second' WHERE key LIKE $1`, [`logit-lens:${sae.id}:${f.index}%`]);
    const again = logitLensSchema.parse((await get(`/api/features/${f.id}/logit-lens?k=4`)).body);
    expect(again.cached).toBe(false);
    expect(again.top).toEqual(first.top);
    expect(again.computedAt).toBeGreaterThan(first.computedAt);
    await db.pool.query(`UPDATE analysis_cache SET expires_at = now() - interval '1 second' WHERE kind = 'correlations'`);
    const before = Number((await db.pool.query(`SELECT count(*) AS n FROM analysis_cache`)).rows[0].n);
    const expired = Number((await db.pool.query(`SELECT count(*) AS n FROM analysis_cache WHERE expires_at <= now()`)).rows[0].n);
    expect(expired).toBeGreaterThan(0);
    expect(await pruneAnalysisCache(db.db)).toBe(expired);
    expect(Number((await db.pool.query(`SELECT count(*) AS n FROM analysis_cache`)).rows[0].n)).toBe(before - expired);
  }, 90_000);

  it('keeps the LLM key to itself', async () => {
    expect(settingsSchema.parse((await get('/api/settings')).body)).toEqual({ llm: null });
    const put = (body: unknown) => t.request('/api/settings', { method: 'PUT', body: JSON.stringify(body) });
    expect(await bad('/api/settings', { method: 'PUT', body: JSON.stringify({ llm: { url: 'ftp://x', model: 'm' } }) })).toEqual(['llm.url']);
    expect(await bad('/api/settings', { method: 'PUT', body: JSON.stringify({ llm: { url: 'http://127.0.0.1:1/v1', model: '' } }) })).toEqual(['llm.model']);
    let res = await put({ llm: { url: 'http://127.0.0.1:1/v1', model: 'labeller', apiKey: 'sk-secret-1234' } });
    const text = await res.text();
    expect(text).not.toContain('sk-secret');
    expect(settingsSchema.parse(JSON.parse(text))).toEqual({ llm: { url: 'http://127.0.0.1:1/v1', model: 'labeller', apiKeySet: true } });
    // the key left out is kept for the same endpoint; another endpoint must give its own (or null); null removes it
    res = await put({ llm: { url: 'http://127.0.0.1:1/v1/', model: 'labeller-2' } });
    expect(settingsSchema.parse(await res.json()).llm).toMatchObject({ model: 'labeller-2', apiKeySet: true });
    expect(await bad('/api/settings', { method: 'PUT', body: JSON.stringify({ llm: { url: 'http://127.0.0.1:2/v1', model: 'labeller-2' } }) })).toEqual(['llm.apiKey']);
    expect((await get('/api/settings')).body).toEqual({ llm: { url: 'http://127.0.0.1:1/v1/', model: 'labeller-2', apiKeySet: true } });
    res = await put({ llm: { url: 'http://127.0.0.1:2/v1', model: 'labeller-2', apiKey: null } });
    expect(settingsSchema.parse(await res.json()).llm?.apiKeySet).toBe(false);
    // nobody listens there: the test names the endpoint
    const tried = await t.request('/api/settings/llm/test', { method: 'POST' });
    expect(tried.status).toBe(502);
    expect(errorBodySchema.parse(await tried.json()).error.message).toMatch(/POST http:\/\/127\.0\.0\.1:2\/v1\/chat\/completions: cannot reach/);
    await put({ llm: null });
    expect((await get('/api/settings')).body).toEqual({ llm: null });
    const none = await t.request('/api/settings/llm/test', { method: 'POST' });
    expect(none.status).toBe(400);
    const label = await t.request(`/api/features/${all[0]!.id}/label`, { method: 'POST' });
    expect(label.status).toBe(400);
    expect(errorBodySchema.parse(await label.json()).error.code).toBe('llm_not_configured');
  });

  it('tries an endpoint before saving it, and relabels one feature with it now', async () => {
    const llm = await startLlmServer('sk-right');
    try {
      const test = (body?: unknown) => t.request('/api/settings/llm/test', { method: 'POST', ...(body ? { body: JSON.stringify(body) } : {}) });
      const wrong = await test({ llm: { url: llm.url, model: 'labeller', apiKey: 'sk-wrong' } });
      expect(wrong.status).toBe(502);
      // the status and the endpoint's error code, not its answer
      expect(errorBodySchema.parse(await wrong.json()).error).toMatchObject({ code: 'llm_failed', message: expect.stringMatching(/chat\/completions: 401 Unauthorized \(invalid_request_error\): the endpoint refused the key$/) });
      const right = await test({ llm: { url: llm.url, model: 'labeller', apiKey: 'sk-right' } });
      expect(right.status).toBe(200);
      expect(await right.json()).toMatchObject({ ok: true, model: 'labeller', sample: expect.any(String) });
      // tried, not saved
      expect((await get('/api/settings')).body).toEqual({ llm: null });

      await t.request('/api/settings', { method: 'PUT', body: JSON.stringify({ llm: { url: llm.url, model: 'labeller', apiKey: 'sk-right' } }) });
      expect((await test()).status).toBe(200);
      const f = all.find((x) => x.frequency > 0 && x.labelSource === 'heuristic')!;
      const res = await t.request(`/api/features/${f.id}/label`, { method: 'POST' });
      expect(res.status).toBe(200);
      const d = featureDetailSchema.parse(await res.json());
      const first = d.examples[0]!;
      expect(d).toMatchObject({ labelSource: 'llm', label: labelFor(first.tokens[first.position - first.start]!.text.replace(/\r?\n/g, '⏎')), heuristic: { label: f.label } });
      expect(llm.requests.at(-1)).toMatchObject({ authorization: 'Bearer sk-right', model: 'labeller' });
      llm.failAll(503);
      const failed = await t.request(`/api/features/${f.id}/label`, { method: 'POST' });
      expect(failed.status).toBe(502);
      expect(errorBodySchema.parse(await failed.json()).error).toMatchObject({ code: 'llm_failed', message: expect.stringContaining('503') });
    } finally {
      await t.request('/api/settings', { method: 'PUT', body: JSON.stringify({ llm: null }) });
      await llm.close();
    }
  }, 60_000);
});
