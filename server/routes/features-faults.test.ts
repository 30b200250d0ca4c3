/**
 * Feature analyses whose text PostgreSQL would refuse, and failures that must
 * not reach a client as SQL, in-process with a real pg-boss, PostgreSQL and
 * ONNX Runtime: an imported SAE on the demo model whose feature 0 points
 * along the embedding of token 189 ('Ā', byte 0: it decodes to NUL) and
 * feature 1 against it, so the logit lens ranks that token first and last;
 * and a logit lens whose write the database refuses (a trigger the test
 * adds), answered with a generic 500.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { logitLensSchema } from '../../models/contracts/features.ts';
import { logger } from '../../models/log.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { f16ToFloat32, openSafetensors } from '../../models/safetensors.ts';
import { saveSae } from '../../models/sae/saelens.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { insertSae, type SaeRow } from '../../db/queries/saes.ts';
import { createTestApp, startAnalysisWorker, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import { startJobRunner, type JobRunner } from '../../workers/runner.ts';

/** The demo model's token for byte 0 ('Ā' in its byte-level vocabulary). */
const NUL_TOKEN = 189;
const HOOK = 'blocks.3.hook_resid_post';

/** W_E[token] / γ_final of the demo model (d_model 256): through the final norm and the tied unembedding it favours `token`. */
async function directionOf(token: number): Promise<Float32Array> {
  const st = await openSafetensors(path.join(DEMO_MODEL_DIR, 'model.safetensors'));
  try {
    const f32 = (x: Awaited<ReturnType<typeof st.read>>) => (x instanceof Uint16Array ? f16ToFloat32(x) : (x as Float32Array));
    const wte = f32(await st.read('transformer.wte.weight')); // [vocab, d]
    const gamma = f32(await st.read('transformer.ln_f.weight')); // [d]
    const d = gamma.length;
    return Float32Array.from({ length: d }, (_, i) => wte[token * d + i]! / gamma[i]!);
  } finally {
    await st.close();
  }
}

describe('feature analyses: derived text and faults', () => {
  let db: TestDatabase;
  let t: TestApp;
  let runner: JobRunner;
  let sae: SaeRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-features-faults-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_features_faults');
    await registerDemoModel(db.db, logger('test'));
    const d = 256;
    const dSae = 4;
    const dir = await directionOf(NUL_TOKEN);
    // [dSae, d]: feature 0 along the direction, feature 1 against it, 2 and 3 small and different
    const W_dec = new Float32Array(dSae * d);
    W_dec.set(dir, 0);
    W_dec.set(dir.map((x) => -x), d);
    for (let i = 0; i < d; i++) W_dec[2 * d + i] = Math.sin(i);
    for (let i = 0; i < d; i++) W_dec[3 * d + i] = Math.cos(i);
    const id = randomUUID();
    const saeDir = path.join(dataDir, 'saes', 'imported', id);
    await saveSae(
      saeDir,
      { architecture: 'topk', dIn: d, dSae, k: 2, hookName: HOOK, hookLayer: 3, modelName: 'tiny-gpt2-debian-6l', contextSize: null, prependBos: false, normalizeActivations: 'none', extra: {} },
      { W_enc: new Float32Array(d * dSae), b_enc: new Float32Array(dSae), W_dec, b_dec: new Float32Array(d) },
    );
    const cfg = JSON.parse(await fs.readFile(path.join(saeDir, 'cfg.json'), 'utf8')) as Record<string, unknown>;
    sae = await insertSae(db.db, { id, name: 'imported', trainingId: null, modelId: DEMO_MODEL_ID, hookPoint: HOOK, architecture: 'topk', dIn: d, dSae, cfg, metrics: null, path: saeDir });
    t = await createTestApp(db, dataDir, { analysisWaitMs: 60_000 });
    runner = await startAnalysisWorker(t, db, dataDir);
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    await t?.stop();
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('stores and answers a logit lens whose top and bottom tokens decode to NUL, the token shown as ␀', async () => {
    const res = await t.request(`/api/features/${sae.id}:0/logit-lens?k=5`);
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const lens = logitLensSchema.parse(JSON.parse(text));
    expect(lens.top.find((x) => x.token === NUL_TOKEN)).toMatchObject({ text: '␀' });
    expect(text).not.toContain('\\u0000');
    const against = logitLensSchema.parse(await (await t.request(`/api/features/${sae.id}:1/logit-lens?k=5`)).json());
    expect(against.bottom[0]).toMatchObject({ token: NUL_TOKEN, text: '␀' });
    // stored so, and answered from the cache the second time
    const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM analysis_cache WHERE sae_id = $1 AND result::text LIKE '%␀%'`, [sae.id]);
    expect(Number(rows[0]!.n)).toBe(2);
    expect(logitLensSchema.parse(await (await t.request(`/api/features/${sae.id}:0/logit-lens?k=5`)).json())).toMatchObject({ cached: true, top: lens.top });
  }, 60_000);

  it('answers an analysis the database refused with a generic 500: no SQL, in the answer or in the job record', async () => {
    await db.pool.query(`
      CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.feature_index = 2 THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END IF;
        RETURN NEW;
      END $$`);
    await db.pool.query(`CREATE TRIGGER test_refuse BEFORE INSERT ON analysis_cache FOR EACH ROW EXECUTE FUNCTION test_refuse()`);
    try {
      const res = await t.request(`/api/features/${sae.id}:2/logit-lens?k=3`);
      const text = await res.text();
      expect(res.status, text).toBe(500);
      const body = errorBodySchema.parse(JSON.parse(text));
      expect(body.error.code).toBe('analysis_failed');
      expect(body.error.message).toMatch(/^logit-lens of feature .*:2: the analysis job failed; the worker log has the details \(job [0-9a-f-]+\)$/);
      expect(text).not.toMatch(/Failed query|insert into|analysis_cache|params/i);
      const jobId = (body.error.details as { jobId: string }).jobId;
      const output = JSON.stringify(((await (await t.request(`/api/jobs/${jobId}`)).json()) as { output: unknown }).output);
      expect(output).toContain('a database query failed: refused by the test (SQLSTATE 23514)');
      expect(output).not.toMatch(/Failed query|insert into|"params"|"query"/i);
    } finally {
      await db.pool.query(`DROP TRIGGER test_refuse ON analysis_cache; DROP FUNCTION test_refuse()`);
    }
  }, 60_000);
});
