/**
 * The inspector routes in-process, with a real pg-boss and the
 * `features.analyze` job run by an in-process job runner, on the demo model
 * and a seeded random JumpReLU SAE recorded after a BOS at
 * blocks.3.hook_resid_post. The manifest is built once (then cached); its
 * model graph run by ONNX Runtime gives `loupe forward`'s hook values, its
 * encoder the SAE's float64 encoding; the decoder files hold W_dec as stored,
 * a token's column is W_U's; ETags are the files' SHA-256 and answer 304. A
 * model too big for a browser is a 422 naming the sizes; files before a
 * build, an unknown SAE or a token outside the vocabulary say so.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { inspectorManifestSchema, inspectorResponseSchema, inspectorTokenSchema, type InspectorResponse } from '../../models/contracts/inspector.ts';
import { buildInspectorBundle } from '../../models/features/inspector-bundle.ts';
import { readUnembedding } from '../../models/features/lens.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { float32ToF16 } from '../../models/quantize.ts';
import { loadSae } from '../../models/sae/saelens.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import type { SaeRow } from '../../db/queries/saes.ts';
import { forwardRows } from '../../scripts/testing/activations.ts';
import { createTestApp, startAnalysisWorker, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { randomSae } from '../../scripts/testing/features.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';

const HOOK = 'blocks.3.hook_resid_post';
const D = 256;
const D_SAE = 64;
const TEXT = 'The quick brown fox jumps over the lazy dog.';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('the inspector routes', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let sae: SaeRow;
  let big: SaeRow;
  let manifest: InspectorResponse;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-inspector-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_inspector');
    await registerDemoModel(db.db, logger('test'));
    sae = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: D, dSae: D_SAE, k: 0, seed: 5, architecture: 'jumprelu', prependBos: true });
    big = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: D, dSae: D_SAE, k: 8, seed: 6 });
    t = await createTestApp(db, dataDir, { analysisWaitMs: 60_000 });
    runner = await startAnalysisWorker(t, db, dataDir);
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const get = async (p: string, init?: RequestInit) => t.request(p, init);
  const file = async (name: string) => {
    const res = await get(`/api/saes/${sae.id}/inspector/files/${name}`);
    expect(res.status, name).toBe(200);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(res.headers.get('etag')).toBe(`"${sha256(body)}"`);
    return body;
  };

  it('says the files are not built before the manifest is asked for', async () => {
    const res = await get(`/api/saes/${sae.id}/inspector/files/model.onnx`);
    expect(res.status).toBe(404);
    expect(errorBodySchema.parse(await res.json()).error).toMatchObject({ code: 'not_built', message: expect.stringContaining(`GET /api/saes/${sae.id}/inspector`) });
  });

  it('builds the manifest once, then answers it from the cache', async () => {
    const res = await get(`/api/saes/${sae.id}/inspector`);
    expect(res.status).toBe(200);
    manifest = inspectorResponseSchema.parse(await res.json());
    const tok = await loadTokenizer(DEMO_MODEL_DIR);
    expect(manifest).toMatchObject({ saeId: sae.id, modelId: DEMO_MODEL_ID, hookPoint: HOOK, architecture: 'jumprelu', dIn: D, dSae: D_SAE, bos: tok.bosId, vocabSize: 8192, cached: false });
    expect(manifest.browser).toMatchObject({ runnable: true, reason: null });
    expect(manifest.lens.norm).toBe('layer');
    expect(manifest.lens.gain).toHaveLength(D);
    expect(Object.keys(manifest.files).sort()).toEqual(['decoder.f16', 'decoder.f32', 'encoder.onnx', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'unembedding.f32']);
    const again = inspectorResponseSchema.parse(await (await get(`/api/saes/${sae.id}/inspector`)).json());
    expect(again).toMatchObject({ cached: true, builtAt: manifest.builtAt });
  }, 120_000);

  it("serves graphs that compute `loupe forward`'s hook values and the SAE's encoding", async () => {
    const tok = await loadTokenizer(DEMO_MODEL_DIR);
    const ids = [manifest.bos!, ...tok.encode(TEXT, { addBos: false })];
    const [model, encoder] = await Promise.all([ort.InferenceSession.create(await file('model.onnx')), ort.InferenceSession.create(await file('encoder.onnx'))]);
    expect(model.inputNames).toEqual(['input_ids']);
    expect(model.outputNames).toEqual([HOOK]);
    const out = await model.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) });
    const hook = out[HOOK]!.data as Float32Array;
    const want = (await forwardRows(DEMO_MODEL_DIR, ids, [HOOK], path.join(tmp, 'fwd.safetensors')))[HOOK]!;
    let err = 0;
    for (let r = 0; r < ids.length; r++) for (let i = 0; i < D; i++) err = Math.max(err, Math.abs(hook[r * D + i]! - want[r]![i]!));
    expect(err).toBeLessThan(1e-5);
    // the encoder: (x - b_dec)·W_enc + b_enc, kept where above the threshold, in float64
    const { weights: w } = await loadSae(sae.path);
    const acts = (await encoder.run({ x: new ort.Tensor('float32', hook, [ids.length, D]) })).acts!.data as Float32Array;
    let encErr = 0;
    for (let r = 0; r < ids.length; r++) {
      for (let j = 0; j < D_SAE; j++) {
        let pre = w.b_enc[j]!;
        for (let i = 0; i < D; i++) pre += (hook[r * D + i]! - w.b_dec[i]!) * w.W_enc[i * D_SAE + j]!;
        encErr = Math.max(encErr, Math.abs(acts[r * D_SAE + j]! - (pre > w.threshold![j]! ? pre : 0)));
      }
    }
    expect(encErr).toBeLessThan(1e-4);
    await Promise.all([model.release(), encoder.release()]);
  }, 120_000);

  it('serves the decoder rows, the tokenizer and a token\'s column of W_U; an ETag that matches is a 304', async () => {
    const { weights: w } = await loadSae(sae.path);
    expect(sha256(await file('decoder.f32'))).toBe(sha256(bytes(w.W_dec)));
    expect(sha256(await file('decoder.f16'))).toBe(sha256(bytes(float32ToF16(w.W_dec))));
    expect(JSON.parse(new TextDecoder().decode(await file('tokenizer.json')))).toHaveProperty('model');
    const etag = `"${manifest.files['decoder.f16']!.sha256}"`;
    const cached = await get(`/api/saes/${sae.id}/inspector/files/decoder.f16`, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe(etag);

    const u = await readUnembedding(DEMO_MODEL_DIR);
    for (const token of [0, 464, 8191]) {
      const res = await get(`/api/saes/${sae.id}/inspector/unembedding/${token}`);
      expect(res.status).toBe(200);
      const col = inspectorTokenSchema.parse(await res.json());
      // tied: W_U[:, t] is the embedding's row t
      expect(col).toEqual({ token, column: Array.from(u.unembed.w.subarray(token * D, (token + 1) * D)) });
    }
    expect(u.gain && Array.from(u.gain)).toEqual(manifest.lens.gain);
    const outside = await get(`/api/saes/${sae.id}/inspector/unembedding/8192`);
    expect(outside.status).toBe(400);
    expect(errorBodySchema.parse(await outside.json()).error.details).toEqual([{ field: 'token', message: expect.stringContaining('8192') }]);
  });

  it('refuses the graphs of a model too big for a browser with a 422 naming the sizes; its decoder is still served', async () => {
    const m = await buildInspectorBundle({ dataDir, saeId: big.id, modelId: DEMO_MODEL_ID, saeDir: big.path, modelDir: DEMO_MODEL_DIR, hookPoint: HOOK, maxBytes: 1024 ** 2 });
    expect(inspectorManifestSchema.parse(m).browser).toMatchObject({ runnable: false, reason: expect.stringMatching(/take \d+ MiB as fp32, more than the 1 MiB/) });
    expect(m.files['model.onnx']).toBeUndefined();
    const res = await get(`/api/saes/${big.id}/inspector/files/model.onnx`);
    expect(res.status).toBe(422);
    expect(errorBodySchema.parse(await res.json()).error).toMatchObject({ code: 'too_large', message: expect.stringContaining('1 MiB') });
    expect((await get(`/api/saes/${big.id}/inspector/files/decoder.f32`)).status).toBe(200);
    // the same sources: reused as built
    const again = await buildInspectorBundle({ dataDir, saeId: big.id, modelId: DEMO_MODEL_ID, saeDir: big.path, modelDir: DEMO_MODEL_DIR, hookPoint: HOOK, maxBytes: 1024 ** 2 });
    expect(again.builtAt).toBe(m.builtAt);
  }, 60_000);

  it('answers 404 for an unknown SAE', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const p of [`/api/saes/${id}/inspector`, `/api/saes/${id}/inspector/files/decoder.f32`, `/api/saes/${id}/inspector/unembedding/1`]) {
      const res = await get(p);
      expect(res.status, p).toBe(404);
    }
  });
});
