/**
 * The route fuzzer: every operation of the app's own OpenAPI document, hit
 * with requests that fast-check generates from its schemas, over a real
 * PostgreSQL and pg-boss (no worker: the jobs it queues stay queued).
 *
 * For each operation, with a fixed seed: path parameters (ids of rows that
 * exist, random UUIDs, garbage segments), query parameters (valid-shaped
 * values, values out of range, raw percent-encoding that is not UTF-8) and
 * JSON bodies that are (i) valid-shaped from the schema, with numbers in and
 * out of their bounds and strings holding NUL, lone surrogates, path-like and
 * very long text, (ii) invalid (a value replaced by another type, a required
 * field dropped, an unknown field added, the whole body swapped) or (iii) not
 * JSON at all, or sent with another content type. Every answer must be a
 * status below 500 (or a 5xx its route documents, such as the LLM test's
 * 502), every 4xx must carry `{error: {code, message}}`, and a 400
 * `invalid_request` must name the fields in `details`. Every failure is
 * collected, grouped by route and cause (the server log line of its request
 * id), and reported with its smallest request before the test fails.
 *
 * The generator of the requests and the judge of the answers are in
 * scripts/testing/fuzz/ (openapi.ts, values.ts, requests.ts, routes.ts); this
 * file seeds the rows the requests refer to, runs every operation's requests,
 * then targeted cases.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainConfigResolved } from '../models/contracts/trainings.ts';
import type { FeatureRecord } from '../models/features/records.ts';
import { logger } from '../models/log.ts';
import { DEMO_MODEL_DIR } from '../models/model-files.ts';
import { resolveTrainConfig } from '../models/sae/config.ts';
import { saveSae } from '../models/sae/saelens.ts';
import { trainingHookDir } from '../models/sae/files.ts';
import { insertDiscovery, updateDiscovery } from '../db/queries/discoveries.ts';
import { insertExtraction } from '../db/queries/extractions.ts';
import { replaceFeatures } from '../db/queries/features.ts';
import { DEMO_MODEL_ID } from '../db/queries/models.ts';
import { insertSae } from '../db/queries/saes.ts';
import { insertTrial } from '../db/queries/sweeps.ts';
import { insertTraining, updateTraining, upsertMetrics } from '../db/queries/trainings.ts';
import { createTestApp, type TestApp } from '../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../scripts/testing/db.ts';
import { randomSae } from '../scripts/testing/features.ts';
import { operationsOf, type Operation } from '../scripts/testing/fuzz/openapi.ts';
import { specArb, type Spec } from '../scripts/testing/fuzz/requests.ts';
import { Pools, RouteFuzzer } from '../scripts/testing/fuzz/routes.ts';
import { CLOSED_URL } from '../scripts/testing/fuzz/values.ts';
import { insertCompletedDataset, tokenizeDemo } from '../scripts/testing/tokenized.ts';
import { completedExtraction } from '../scripts/testing/training.ts';
import { registerDemoModel } from '../workers/demo-model.ts';

/** The seed of every generated request: the same requests on every run. */
const SEED = 20_250_611;
/** Requests per operation without a body, and per operation with one. */
const RUNS_PLAIN = 60;
const RUNS_BODY = 180;
/** The fuzzing stops (and says so) past this much wall time, ms. */
const BUDGET_MS = 75_000;
const HOOK = 'blocks.1.hook_resid_post';
const D_MODEL = 256;

describe('route fuzzer', () => {
  let db: TestDatabase;
  let t: TestApp;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-fuzz-'));
  const dataDir = path.join(tmp, 'data');
  const pools = new Pools();
  let saeDir = '';

  beforeAll(async () => {
    db = await createTestDatabase('loupe_fuzz');
    await registerDemoModel(db.db, logger('test'));
    pools.add('models', DEMO_MODEL_ID);
    // A completed dataset and extraction (small), an SAE trained "by" a completed training, an imported one, and its features.
    const sliceDir = path.join(tmp, 'slice');
    const dataset = await insertCompletedDataset(db.db, sliceDir, await tokenizeDemo(sliceDir, 1200));
    pools.add('datasets', dataset.id);
    const extraction = await completedExtraction(db.db, dataDir, dataset, [HOOK], { dtype: 'fp32', storage: 'f32', contextLength: 16, batchSize: 8, tokenBudget: 16 * 16, stride: null, keepBos: false, prependBos: null, windowsPerShard: 8 });
    pools.add('extractions', extraction.id);
    const queuedExtraction = await insertExtraction(db.db, { modelId: DEMO_MODEL_ID, datasetId: dataset.id, hookPoints: [HOOK], settings: extraction.settings });
    pools.add('extractions', queuedExtraction.id);
    const config: TrainConfigResolved = resolveTrainConfig([{ architecture: 'topk', k: 4, dSae: 32 }], 256);
    const training = await insertTraining(db.db, { name: 'fuzz training', extractionId: extraction.id, hookPoints: [HOOK], config });
    await upsertMetrics(db.db, training.id, [{ hook: HOOK, step: 0, tokens: 0 }, { hook: HOOK, step: 10, tokens: 2560 }]);
    await updateTraining(db.db, training.id, { status: 'completed', finishedAt: new Date() });
    const queuedTraining = await insertTraining(db.db, { name: 'fuzz queued', extractionId: extraction.id, hookPoints: [HOOK], config });
    pools.add('trainings', training.id);
    pools.add('trainings', queuedTraining.id);
    saeDir = trainingHookDir(dataDir, training.id, HOOK);
    const imported = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: D_MODEL, dSae: 32, k: 4 });
    const zeros = (n: number) => new Float32Array(n);
    await saveSae(saeDir, { architecture: 'topk', dIn: D_MODEL, dSae: 32, k: 4, hookName: HOOK, hookLayer: 1, modelName: 'tiny', contextSize: 16, prependBos: false, normalizeActivations: 'none', extra: {} }, {
      W_enc: zeros(D_MODEL * 32),
      b_enc: zeros(32),
      W_dec: zeros(32 * D_MODEL),
      b_dec: zeros(D_MODEL),
    });
    const trained = await insertSae(db.db, { id: randomUUID(), name: 'fuzz sae', trainingId: training.id, modelId: DEMO_MODEL_ID, hookPoint: HOOK, architecture: 'topk', dIn: D_MODEL, dSae: 32, cfg: imported.cfg, metrics: null, path: saeDir });
    pools.add('saes', trained.id);
    pools.add('saes', imported.id);
    const discovery = await insertDiscovery(db.db, { saeId: trained.id, extractionId: extraction.id, settings: { topK: 2, left: 2, right: 1 } });
    await updateDiscovery(db.db, discovery.id, { status: 'running' });
    const records: FeatureRecord[] = [0, 1, 2].map((index) => ({
      index,
      frequency: 0.1 * (index + 1),
      maxActivation: 1 + index,
      meanActivation: 0.5,
      histogram: { edges: [0, 1, 2], counts: [3, 1] },
      heuristicLabel: `feature ${index}`,
      heuristicScore: 0.5,
      heuristicKind: 'token',
      llmLabel: null,
      peakTokens: [10 + index],
      topTokens: [{ token: 10 + index, text: 'x', count: 2 }],
      examples: [{ rank: 0, maxValue: 1, position: 3, start: 0, tokens: [1, 2, 3, 10 + index], values: [0, 0, 0, 1] }],
    }));
    expect(await replaceFeatures(db.db, discovery.id, trained.id, records, { progress: { phase: 'saving', rowsDone: 3, rowsTotal: 3, featuresLabelled: 0, etaSeconds: null }, rows: 10, warning: null })).toBe(true);
    await updateDiscovery(db.db, discovery.id, { status: 'completed' });
    pools.add('discoveries', discovery.id);
    for (const i of [0, 1, 2]) pools.add('features', `${trained.id}:${i}`);

    t = await createTestApp(db, dataDir, { uploadMaxBytes: 4096, analysisWaitMs: 20 });
    // Rows made through the API: templates, a queued hub import (and its job), LLM settings pointing nowhere.
    const post = async <T>(url: string, body: unknown, method = 'POST'): Promise<T> => {
      const res = await t.request(url, { method, body: JSON.stringify(body) });
      expect(res.status, `${url}: ${await res.clone().text()}`).toBeLessThan(300);
      return (await res.json()) as T;
    };
    pools.add('extraction-templates', (await post<{ id: string }>('/api/extraction-templates', { name: 'fuzz', settings: { contextLength: 16 } })).id);
    pools.add('training-templates', (await post<{ id: string }>('/api/training-templates', { name: 'fuzz', settings: { config: { k: 4 } } })).id);
    const { sweep } = await post<{ sweep: { id: string } }>('/api/sweeps', { extractionId: extraction.id, base: { batchSize: 64, totalTokens: 640 }, space: { k: { type: 'int', min: 2, max: 8 } }, objective: { metric: 'explainedVariance' } });
    await insertTrial(db.db, { sweepId: sweep.id, number: 0, params: { k: 4 }, trainingId: training.id });
    pools.add('sweeps', sweep.id);
    const queued = await post<{ dataset: { id: string }; job: { id: string } }>('/api/datasets', { source: { kind: 'hub', repo: 'someone/data' } });
    pools.add('datasets', queued.dataset.id);
    pools.add('jobs', queued.job.id);
    const model = await post<{ model: { id: string }; job: { id: string } }>('/api/models', { source: { kind: 'hub', repo: 'someone/model' } });
    pools.add('models', model.model.id);
    pools.add('jobs', model.job.id);
    await post('/api/settings', { llm: { url: CLOSED_URL, model: 'm', apiKey: 'k' } }, 'PUT');
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers thousands of generated requests over every route without a 5xx, with JSON errors naming fields', async () => {
    const docRes = await t.request('/api/openapi.json');
    expect(docRes.status).toBe(200);
    const ops = operationsOf(await docRes.json());
    expect(ops.length).toBeGreaterThan(40);
    // Known good values for fields whose valid values are few (so valid-shaped requests reach past validation).
    const extras: Record<string, string[]> = {
      path: [DEMO_MODEL_DIR, saeDir, path.dirname(saeDir), dataDir, tmp, '/', '/etc', '/proc/self', '/dev/null', '/nonexistent/folder', 'relative/folder', `${saeDir}/../${path.basename(saeDir)}`],
      repo: ['someone/model', 'gpt2', 'a/b', 'owner/../etc', 'a/b/c', '-bad/name', 'x'.repeat(97) + '/y'],
      hookPoints: [HOOK, 'blocks.0.hook_resid_pre', 'blocks.99.hook_resid_post', 'hook_embed', 'ln_final.hook_normalized'],
      hookPoint: [HOOK, 'blocks.0.hook_resid_pre'],
      hook: [HOOK],
      filename: ['a.txt', 'a.jsonl', 'a.csv', 'a.tsv', 'a.parquet', 'a.zip', 'a.json', 'a.txt.gz', 'x.exe', '../../etc/passwd', '.hidden.txt', 'CON.txt', 'a'.repeat(300) + '.txt'],
      textColumn: ['text', 'content'],
      token: [' the', '#0', '#99999999999', '#-1', '#abc'],
      q: ['feature', '%', '_', '\\', "'"],
      metrics: ['cpu', 'cpu,memory', 'gpu.0.util', ',,,'],
      kind: ['model.download', 'dataset.import', 'nope'],
      name: ['fuzz'],
    };

    // Deletions last, so the seeded rows serve every other route first.
    const ordered = [...ops.filter((o) => o.method !== 'delete'), ...ops.filter((o) => o.method === 'delete')];
    const plans = ordered.map((op, i) => ({
      op,
      specs: fc.sample(specArb(op, extras), { seed: SEED + i, numRuns: op.body ? RUNS_BODY : RUNS_PLAIN }),
    }));

    const fuzzer = new RouteFuzzer(t.app, pools);
    const restoreLog = fuzzer.captureLog();
    const started = Date.now();
    let stoppedEarly = false;

    try {
      outer: for (const { op, specs } of plans) {
        for (let n = 0; n < specs.length; n++) {
          if (Date.now() - started > BUDGET_MS) {
            stoppedEarly = true;
            break outer;
          }
          await fuzzer.send(op, specs[n]!, n);
        }
      }
      // Targeted cases: uploads (streamed, empty, multipart, over the limit, lying about their size), bodies over
      // the JSON limit, unknown routes and methods, odd Host and Origin headers.
      const byRoute = (method: string, route: string): Operation => ops.find((o) => o.method === method && o.route === route) ?? { method, route, params: [], documented5xx: new Set() };
      const upload = byRoute('post', '/api/datasets/upload');
      const models = byRoute('post', '/api/models');
      const spec = (o: Partial<Spec>): Spec => ({ kind: 'targeted', pathParams: {}, query: [], headers: {}, ...o });
      const bytes = (text: string) => new TextEncoder().encode(text);
      const octet = { 'content-type': 'application/octet-stream' };
      const hugeJson = JSON.stringify({ source: { kind: 'hub', repo: 'a/b' }, name: 'n'.repeat(1_100_000) });
      const targeted: [Operation, Spec][] = [
        [upload, spec({ query: ['filename=a.txt'], headers: octet })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { bytes: new Uint8Array() } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: [] } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: [bytes('hello '), bytes('world\n')] } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: [bytes('hello '), bytes('world\n')], error: true } })],
        [upload, spec({ query: ['filename=a.txt'], headers: octet, body: { chunks: Array.from({ length: 10 }, () => bytes('x'.repeat(1000))) } })],
        [upload, spec({ query: ['filename=a.zip'], headers: octet, body: { chunks: [bytes('PK\u0003\u0004'), new Uint8Array(300)] } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: { text: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--x--\r\n' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: { text: '--y\r\ngarbage without a boundary' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { 'content-type': 'multipart/form-data' }, body: { text: '' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename="doc.txt"' }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': "attachment; filename*=UTF-8''%E2%82%AC.txt" }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': "attachment; filename*=UTF-8''%ED%A0%80.txt" }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': "attachment; filename*=UTF-8''%00.txt" }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename="../../etc/passwd.txt"' }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename=' }, body: { text: 'hi' } })],
        [upload, spec({ headers: { ...octet, 'content-disposition': 'attachment; filename="' }, body: { text: 'hi' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { ...octet, 'content-length': '99999999999' }, body: { text: 'hi' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { ...octet, 'content-length': '-1' }, body: { text: 'hi' } })],
        [upload, spec({ query: ['filename=a.txt'], headers: { ...octet, 'content-length': 'abc' }, body: { text: 'hi' } })],
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { text: hugeJson } })],
        // deep nesting in a body well under the limit (100-300 KB): a recursive walk of the value must not run out of
        // stack (a cold walk overflows from about 3,500 levels, a JIT-compiled one deeper)
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { text: '['.repeat(50_000) + ']'.repeat(50_000) } })],
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { text: `{"source":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_001)}` } })],
        [models, spec({ headers: { 'content-type': 'application/json' }, body: { chunks: Array.from({ length: 12 }, () => bytes(' '.repeat(100_000))) } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'content-length': '5' }, body: { text: '{"source":{"kind":"hub","repo":"a/b"}}' } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'content-length': '99999999' }, body: { text: '{}' } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: { text: '{}' } })],
        [models, spec({ headers: { 'content-type': 'application/json', 'x-request-id': 'r'.repeat(10_000) }, body: { text: '{}' } })],
        ...['/api/nope', '/api', '/api/', '/api/models/', '//api//models', '/api/models/%ZZ/architecture', '/api/models/%ED%A0%80', '/api/%00', '/api/models?%ZZ', '/api/features/a:b:c'].map(
          (u): [Operation, Spec] => [byRoute('get', u.split('?')[0]!), spec({ rawUrl: u })],
        ),
        ...['put', 'patch', 'head', 'options'].map((m): [Operation, Spec] => [byRoute(m, '/api/models'), spec({ rawUrl: '/api/models' })]),
        ...['', 'evil.example', '127.0.0.1:99999', '[::1', 'a b', 'localhost.', 'LOCALHOST:8787', '0.0.0.0', '[::1]:8787', '127.0.0.1:8787, evil.example', 'é'].map(
          (host): [Operation, Spec] => [byRoute('get', '/api/models'), spec({ rawUrl: '/api/models', headers: { host } })],
        ),
        ...['null', 'http://evil.example', 'http://127.0.0.1:1', 'garbage', ''].map((origin): [Operation, Spec] => [
          byRoute('post', '/api/models'),
          spec({ rawUrl: '/api/models', headers: { origin, 'content-type': 'application/json' }, body: { text: '{}' } }),
        ]),
      ];
      for (const [op, s] of targeted) await fuzzer.send(op, s, 0);

      // The process is up and answering.
      const health = await t.request('/api/health');
      expect(health.status).toBe(200);
      expect((await t.request('/api/models')).status).toBe(200);
    } finally {
      restoreLog();
    }

    const report = fuzzer.report(Date.now() - started, stoppedEarly);
    expect(report, report.join('\n\n')).toEqual([]);
    expect(fuzzer.requests).toBeGreaterThan(2500);
    // every operation of the document was reached
    expect(ops.filter((o) => !fuzzer.perRoute.has(`${o.method.toUpperCase()} ${o.route}`)).map((o) => `${o.method} ${o.route}`)).toEqual([]);
  }, 150_000);
});
