/**
 * `POST /api/saes/{id}/encode` in-process, with a real pg-boss and the
 * `features.analyze` job run by an in-process job runner, on the demo model
 * and two seeded random SAEs at blocks.3.hook_resid_post: a TopK one recorded
 * without a BOS, and a JumpReLU one (biases, thresholds) recorded after a
 * BOS. Its answers equal an independent computation: the hook's values from
 * `loupe forward` (after the BOS when the SAE says so), the encoder in plain
 * float64 from the SAE's safetensors file, each token's top-k positive
 * activations. Bad bodies are 400s naming the field, an unknown SAE a 404.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { encodeResponseSchema, type EncodeResponse } from '../../models/contracts/encode.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { openSafetensors, toFloat32 } from '../../models/safetensors.ts';
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
const TEXT = 'In the beginning God created the heaven and the earth.';

/** Each row's top-k positive activations, by the SAE's rule, in float64 from its safetensors file. */
async function reference(dir: string, architecture: 'topk' | 'jumprelu', k: number, rows: Float32Array[], topK: number): Promise<{ index: number; value: number }[][]> {
  const file = await openSafetensors(path.join(dir, 'sae_weights.safetensors'));
  const read = async (name: string) => toFloat32(file.tensors.get(name)!.dtype, await file.read(name));
  const [W_enc, b_enc, b_dec, threshold] = [await read('W_enc'), await read('b_enc'), await read('b_dec'), architecture === 'jumprelu' ? await read('threshold') : null];
  await file.close();
  return rows.map((x) => {
    const pre = new Float64Array(D_SAE);
    for (let j = 0; j < D_SAE; j++) {
      let s = b_enc[j]!;
      for (let i = 0; i < D; i++) s += (x[i]! - b_dec[i]!) * W_enc[i * D_SAE + j]!;
      pre[j] = s;
    }
    let acts = Array.from(pre, (value, index) => ({ index, value }));
    if (architecture === 'topk') acts = acts.sort((a, b) => b.value - a.value).slice(0, k);
    else acts = acts.filter((a) => a.value > threshold![a.index]!);
    return acts
      .filter((a) => a.value > 0)
      .sort((a, b) => b.value - a.value || a.index - b.index)
      .slice(0, topK);
  });
}

describe('POST /api/saes/{id}/encode', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let topk: SaeRow;
  let jump: SaeRow;
  let ids: number[];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-encode-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_encode');
    await registerDemoModel(db.db, logger('test'));
    topk = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: D, dSae: D_SAE, k: 8, seed: 3 });
    jump = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: HOOK, dIn: D, dSae: D_SAE, k: 0, seed: 4, architecture: 'jumprelu', prependBos: true });
    ids = Array.from((await loadTokenizer(DEMO_MODEL_DIR)).encode(TEXT, { addBos: false }));
    t = await createTestApp(db, dataDir, { analysisWaitMs: 60_000 });
    runner = await startAnalysisWorker(t, db, dataDir);
  }, 120_000);

  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (saeId: string, body: unknown) => t.request(`/api/saes/${saeId}/encode`, { method: 'POST', body: JSON.stringify(body) });
  const encode = async (saeId: string, body: unknown): Promise<EncodeResponse> => {
    const res = await post(saeId, body);
    const json: unknown = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(200);
    return encodeResponseSchema.parse(json);
  };
  const bad = async (saeId: string, body: unknown) => {
    const res = await post(saeId, body);
    const json: unknown = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(400);
    return (errorBodySchema.parse(json).error.details as { field: string }[]).map((d) => d.field);
  };

  it('answers what the hook values of `loupe forward` give through the SAE weights in float64', async () => {
    const [plain, afterBos] = await Promise.all([forwardRows(DEMO_MODEL_DIR, ids, [HOOK], path.join(tmp, 'plain.safetensors')), forwardRows(DEMO_MODEL_DIR, [0, ...ids], [HOOK], path.join(tmp, 'bos.safetensors'))]);
    const cases = [
      { sae: topk, architecture: 'topk' as const, rows: plain[HOOK]!, topK: 10, addedBos: false },
      // BOS (id 0) run first: its row is not answered
      { sae: jump, architecture: 'jumprelu' as const, rows: afterBos[HOOK]!.slice(1), topK: 5, addedBos: true },
    ];
    const texts = (await loadTokenizer(DEMO_MODEL_DIR)).tokenStrings(ids);
    for (const c of cases) {
      const r = await encode(c.sae.id, { text: TEXT, topK: c.topK });
      expect(r).toMatchObject({ saeId: c.sae.id, modelId: DEMO_MODEL_ID, hookPoint: HOOK, addedBos: c.addedBos, topK: c.topK, cached: false });
      expect(r.device).toMatchObject({ model: { provider: 'cpu', requested: 'cpu' }, sae: { provider: 'cpu', requested: 'cpu' } });
      expect(r.tokens.map((x) => x.id)).toEqual(ids);
      expect(r.tokens.map((x) => x.text)).toEqual(texts);
      const want = await reference(c.sae.path, c.architecture, 8, c.rows, c.topK);
      let active = 0;
      for (const [i, tok] of r.tokens.entries()) {
        expect(tok.features.map((f) => f.index), `token ${i}`).toEqual(want[i]!.map((f) => f.index));
        for (const [j, f] of tok.features.entries()) expect(Math.abs(f.value - want[i]![j]!.value), `token ${i} feature ${f.index}`).toBeLessThan(1e-4);
        active += tok.features.length;
      }
      // the comparison compared something: most tokens have features, the JumpReLU rows are cut at topK
      expect(active).toBeGreaterThan(ids.length * (c.topK / 2));
      // the same tokens as ids: the same answer, from the cache
      const again = await encode(c.sae.id, { ids, topK: c.topK });
      expect(again.cached).toBe(true);
      expect(again.tokens).toEqual(r.tokens);
    }
  }, 120_000);

  it('refuses bad bodies naming the field, and answers 404 for an unknown SAE', async () => {
    const long = Array.from({ length: 512 }, (_, i) => 1 + (i % 100));
    expect(await bad(topk.id, { text: ' the'.repeat(600) })).toEqual(['text']);
    // the context is 512: the BOS counts, so 512 ids fit only the SAE recorded without one
    expect(await bad(jump.id, { ids: long })).toEqual(['ids']);
    expect((await encode(topk.id, { ids: long, topK: 1 })).tokens).toHaveLength(512);
    expect(await bad(topk.id, { text: TEXT, ids })).toEqual(['ids']);
    expect(await bad(topk.id, {})).toEqual(['text']);
    expect(await bad(topk.id, { text: '' })).toEqual(['text']);
    expect(await bad(topk.id, { ids: [] })).toEqual(['ids']);
    expect(await bad(topk.id, { ids: [1, 8192] })).toEqual(['ids']);
    expect(await bad(topk.id, { ids: [1, 2.5] })).toEqual(['ids.1']);
    expect(await bad(topk.id, { ids: [-1] })).toEqual(['ids.0']);
    expect(await bad(topk.id, { ids, topK: 0 })).toEqual(['topK']);
    expect(await bad(topk.id, { ids, topK: D_SAE + 1 })).toEqual(['topK']);
    expect(await bad(topk.id, { ids, extra: 1 })).toEqual(['extra']);
    const missing = await post('00000000-0000-4000-8000-000000000001', { ids });
    expect(missing.status).toBe(404);
    expect(errorBodySchema.parse(await missing.json()).error.details).toEqual({ field: 'id' });
  }, 60_000);
});
