/**
 * The SAEs API in-process: import of SAELens folders (a SAELens 5-style
 * cfg.json with top-level hook fields, and Loupe's own 6-style one) copied
 * under DATA_DIR/saes, refusals naming the field, the list and detail, the
 * files for export, and delete (with its discoveries: the queued one
 * cancelled, every staging folder removed).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { saeFamilyListSchema, saeFamilySchema, saeListSchema, saeSchema } from '../../models/contracts/trainings.ts';
import { logger } from '../../models/log.ts';
import { loadSae, saveSae, type SaeConfig } from '../../models/sae/saelens.ts';
import { discoveryDir } from '../../models/features/staging.ts';
import { insertDataset } from '../../db/queries/datasets.ts';
import { DISCOVER_QUEUE, getDiscovery, insertDiscovery, updateDiscovery } from '../../db/queries/discoveries.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { createTestApp, type TestApp } from '../../scripts/testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';

const seq = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));

describe('SAEs API', () => {
  let db: TestDatabase;
  let t: TestApp;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'loupe-saes-api-'));
  const src = mkdtempSync(path.join(os.tmpdir(), 'loupe-saes-src-'));

  beforeAll(async () => {
    db = await createTestDatabase('loupe_saes_api');
    t = await createTestApp(db, dataDir);
    await registerDemoModel(db.db, logger('test'));
  });
  afterAll(async () => {
    await t.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  });

  const importSae = (body: unknown) => t.request('/api/saes/import', { method: 'POST', body: JSON.stringify(body) });
  const problem = async (res: Response) => {
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(400);
    const err = errorBodySchema.parse(body).error;
    return { fields: (err.details as { field: string }[]).map((d) => d.field), message: err.message };
  };

  /** A folder written by saveSae, with its cfg.json rewritten as SAELens 5 wrote it (top-level hook fields, `standard`). */
  const saeLens5 = async (dir: string) => {
    const cfg: SaeConfig = { architecture: 'relu', dIn: 4, dSae: 6, k: null, hookName: 'blocks.0.hook_resid_pre', hookLayer: 0, modelName: 'gpt2', contextSize: 64, prependBos: true, normalizeActivations: 'none', extra: {} };
    await saveSae(dir, cfg, { W_enc: seq(24, 1), b_enc: seq(6, 2), W_dec: seq(24, 3), b_dec: seq(4, 4) });
    writeFileSync(
      path.join(dir, 'cfg.json'),
      JSON.stringify({ architecture: 'standard', d_in: 4, d_sae: 6, hook_name: 'blocks.0.hook_resid_pre', hook_layer: 0, hook_head_index: null, model_name: 'gpt2', dtype: 'float32', device: 'cpu', context_size: 64, prepend_bos: true, normalize_activations: 'none', apply_b_dec_to_input: true, finetuning_scaling_factor: false, sae_lens_training_version: '5.3.0' }),
    );
  };

  it('imports a SAELens 5 folder: checked, copied under DATA_DIR/saes, listed, its files served for export', async () => {
    const dir = path.join(src, 'v5');
    await saeLens5(dir);
    const res = await importSae({ path: dir, modelId: DEMO_MODEL_ID });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(201);
    const sae = saeSchema.parse(json);
    expect(sae).toMatchObject({ trainingId: null, modelId: DEMO_MODEL_ID, modelName: expect.stringMatching(/tiny-gpt2/), hookPoint: 'blocks.0.hook_resid_pre', architecture: 'relu', dIn: 4, dSae: 6, k: null, metrics: null, name: 'gpt2 blocks.0.hook_resid_pre relu 6', cfg: { sae_lens_training_version: '5.3.0' } });
    expect(sae.path).toBe(path.join(dataDir, 'saes', 'imported', sae.id));
    // a copy: the source can go
    rmSync(dir, { recursive: true });
    expect((await loadSae(sae.path)).cfg).toMatchObject({ architecture: 'relu', dIn: 4, dSae: 6, hookName: 'blocks.0.hook_resid_pre', modelName: 'gpt2' });

    const list = saeListSchema.parse(await (await t.request(`/api/saes?modelId=${DEMO_MODEL_ID}`)).json()).saes;
    expect(list.map((s) => s.id)).toEqual([sae.id]);
    expect(saeListSchema.parse(await (await t.request('/api/saes?hookPoint=blocks.9.hook_resid_pre')).json()).saes).toEqual([]);
    expect(saeSchema.parse(await (await t.request(`/api/saes/${sae.id}`)).json()).id).toBe(sae.id);

    const weights = await t.request(`/api/saes/${sae.id}/files/sae_weights.safetensors`);
    expect(weights.status).toBe(200);
    expect(weights.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await weights.arrayBuffer()).equals(readFileSync(path.join(sae.path, 'sae_weights.safetensors')))).toBe(true);
    const cfg = await t.request(`/api/saes/${sae.id}/files/cfg.json`);
    expect(((await cfg.json()) as { d_sae: number }).d_sae).toBe(6);
    expect((await t.request(`/api/saes/${sae.id}/files/model.onnx`)).status).toBe(400);
  });

  it('imports a TopK folder in Loupe\'s own SAELens 6 layout with its k', async () => {
    const dir = path.join(src, 'topk');
    await saveSae(dir, { architecture: 'topk', dIn: 4, dSae: 8, k: 2, hookName: 'blocks.1.hook_resid_post', hookLayer: 1, modelName: 'tiny', contextSize: 32, prependBos: false, normalizeActivations: 'none', extra: {} }, { W_enc: seq(32, 1), b_enc: seq(8, 2), W_dec: seq(32, 3), b_dec: seq(4, 4) });
    const sae = saeSchema.parse(await (await importSae({ path: dir, name: 'mine' })).json());
    expect(sae).toMatchObject({ name: 'mine', architecture: 'topk', k: 2, dSae: 8, modelId: null });
  });

  it('refuses what is not a readable SAELens folder, naming the field', async () => {
    expect(await problem(await importSae({ path: 'relative/dir' }))).toMatchObject({ fields: ['path'], message: expect.stringMatching(/must be an absolute path/) });
    expect((await problem(await importSae({ path: path.join(src, 'missing') }))).message).toMatch(/is not a SAELens folder the server can read/);
    expect((await problem(await importSae({ path: `${src}/../x` }))).message).toMatch(/must not contain/);
    const bad = path.join(src, 'bad');
    await saeLens5(bad);
    writeFileSync(path.join(bad, 'cfg.json'), JSON.stringify({ architecture: 'gated', d_in: 4, d_sae: 6, hook_name: 'x' }));
    expect(await problem(await importSae({ path: bad }))).toMatchObject({ fields: ['path'], message: expect.stringMatching(/cfg\.json: architecture "gated" is not supported/) });
    rmSync(path.join(bad, 'sae_weights.safetensors'));
    expect((await problem(await importSae({ path: bad }))).message).toMatch(/is not a SAELens folder the server can read/);
    expect((await problem(await importSae({ path: src, modelId: '00000000-0000-4000-8000-000000000001' }))).fields).toEqual(['modelId']);
    expect((await problem(await importSae({ path: src, extra: 1 }))).fields).toEqual(['extra']);
    // nothing was kept of the refused imports
    const imported = path.join(dataDir, 'saes', 'imported');
    expect(saeListSchema.parse(await (await t.request('/api/saes')).json()).saes).toHaveLength(2);
    expect(existsSync(imported) ? readdirSync(imported).length : 0).toBe(2);
  });

  it('deletes an SAE with its discoveries: a queued one cancelled, the staging folders of all of them removed, another SAE\'s kept', async () => {
    const imported = async (name: string) => {
      const dir = path.join(src, name);
      await saeLens5(dir);
      const res = await importSae({ path: dir, modelId: DEMO_MODEL_ID, name });
      expect(res.status).toBe(201);
      return saeSchema.parse(await res.json());
    };
    const [doomed, kept] = [await imported('doomed'), await imported('kept')];
    const dataset = await insertDataset(db.db, { name: 'text', source: { kind: 'upload', fileName: 'a.txt', bytes: 1 }, settings: { textColumn: 'text', textSplit: 'paragraph', onBadRow: 'error', addBos: false, addEos: true, maxDocuments: null, maxTokens: null }, tokenizerModelId: DEMO_MODEL_ID, path: null });
    const discovery = async (saeId: string, status: 'completed' | 'queued') => {
      const row = await insertDiscovery(db.db, { saeId, datasetId: dataset.id, text: { contextLength: 64, maxTokens: 640 }, settings: { topK: 10, left: 16, right: 4 } });
      // a queued one has its job waiting in pg-boss (no worker here) and files a retry would resume from
      const jobId = status === 'queued' ? await t.boss.send(DISCOVER_QUEUE, { discoveryId: row.id }) : null;
      await updateDiscovery(db.db, row.id, { status, jobId });
      const staging = discoveryDir(dataDir, row.id);
      mkdirSync(staging, { recursive: true });
      writeFileSync(path.join(staging, 'scan.ckpt'), 'state');
      return { ...row, jobId, staging };
    };
    const done = await discovery(doomed.id, 'completed');
    const waiting = await discovery(doomed.id, 'queued');
    const other = await discovery(kept.id, 'queued');

    expect((await t.request(`/api/saes/${doomed.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(done.staging)).toBe(false);
    expect(existsSync(waiting.staging)).toBe(false);
    expect(await getDiscovery(db.db, done.id)).toBeUndefined();
    expect(await getDiscovery(db.db, waiting.id)).toBeUndefined();
    expect((await t.boss.getJobById(DISCOVER_QUEUE, waiting.jobId!))?.state).toBe('cancelled');
    // the other SAE's discovery: untouched
    expect(existsSync(path.join(other.staging, 'scan.ckpt'))).toBe(true);
    expect((await getDiscovery(db.db, other.id))?.status).toBe('queued');
    expect((await t.boss.getJobById(DISCOVER_QUEUE, other.jobId!))?.state).toBe('created');
    expect((await t.request(`/api/saes/${kept.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(other.staging)).toBe(false);
  });

  it('deletes an SAE and its folder', async () => {
    const [sae] = saeListSchema.parse(await (await t.request('/api/saes?limit=1')).json()).saes;
    expect((await t.request(`/api/saes/${sae!.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(sae!.path)).toBe(false);
    expect((await t.request(`/api/saes/${sae!.id}`)).status).toBe(404);
    expect((await t.request(`/api/saes/${sae!.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await t.request(`/api/saes/${sae!.id}/files/cfg.json`)).status).toBe(404);
  });

  it('puts SAEs of one model, hook and purpose in a family: versions in creation order, the first active until another is made so (or the active one is deleted); sae=<family> means the active one', async () => {
    const dir = path.join(src, 'family');
    await saveSae(dir, { architecture: 'topk', dIn: 4, dSae: 8, k: 2, hookName: 'blocks.2.hook_resid_post', hookLayer: 2, modelName: 'tiny', contextSize: 32, prependBos: false, normalizeActivations: 'none', extra: {} }, { W_enc: seq(32, 1), b_enc: seq(8, 2), W_dec: seq(32, 3), b_dec: seq(4, 4) });
    const imported = async (body: object) => saeSchema.parse(await (await importSae({ path: dir, modelId: DEMO_MODEL_ID, ...body })).json());
    const v1 = await imported({ purpose: 'probe' });
    const v2 = await imported({ purpose: 'probe' });
    const other = await imported({});
    expect(v1.family).toMatchObject({ purpose: 'probe', version: 1, active: true });
    expect(v2.family).toMatchObject({ id: v1.family!.id, purpose: 'probe', version: 2, active: false });
    // another purpose: another family, its own v1
    expect(other.family).toMatchObject({ purpose: 'default', version: 1, active: true });
    expect(other.family!.id).not.toBe(v1.family!.id);

    const family = async () => saeFamilySchema.parse(await (await t.request(`/api/sae-families/${v1.family!.id}`)).json());
    expect(await family()).toMatchObject({ hookPoint: 'blocks.2.hook_resid_post', purpose: 'probe', modelId: DEMO_MODEL_ID, activeSaeId: v1.id, versions: [{ saeId: v1.id, version: 1 }, { saeId: v2.id, version: 2 }] });
    const listed = saeFamilyListSchema.parse(await (await t.request(`/api/sae-families?hookPoint=blocks.2.hook_resid_post`)).json()).families;
    expect(listed.map((f) => f.purpose).sort()).toEqual(['default', 'probe']);
    expect(saeListSchema.parse(await (await t.request(`/api/saes?familyId=${v1.family!.id}`)).json()).saes.map((s) => s.id).sort()).toEqual([v1.id, v2.id].sort());

    // sae=<family id> in the feature list is the active SAE
    const featuresOf = async (sae: string) => (await t.request(`/api/features?sae=${sae}&limit=1`)).status;
    expect(await featuresOf(v1.family!.id)).toBe(200);

    // v2 made active from the API: the family follows, v1 is no longer active
    const patched = await t.request(`/api/saes/${v2.id}`, { method: 'PATCH', body: JSON.stringify({ active: true, name: 'probe v2' }) });
    expect(saeSchema.parse(await patched.json())).toMatchObject({ name: 'probe v2', family: { version: 2, active: true } });
    expect((await family()).activeSaeId).toBe(v2.id);
    expect(saeSchema.parse(await (await t.request(`/api/saes/${v1.id}`)).json()).family).toMatchObject({ active: false });
    // refusals name the field
    expect((await problem(await t.request(`/api/saes/${v1.id}`, { method: 'PATCH', body: JSON.stringify({ active: false }) }))).fields).toEqual(['active']);
    expect((await t.request(`/api/saes/${crypto.randomUUID()}`, { method: 'PATCH', body: JSON.stringify({ active: true }) })).status).toBe(404);
    expect((await t.request(`/api/sae-families/${crypto.randomUUID()}`)).status).toBe(404);
    // the active SAE deleted: the newest other version is active; the last one deleted, sae=<family> is a 404
    expect((await t.request(`/api/saes/${v2.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await family()).activeSaeId).toBe(v1.id);
    expect((await t.request(`/api/saes/${v1.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await family()).activeSaeId).toBeNull();
    expect(await featuresOf(v1.family!.id)).toBe(404);
  });
});
