/**
 * `npm run -s loupe -- sae import|export|encode` against a real HTTP server
 * (the API app over a test database, served on a free port, with the
 * `features.analyze` job run by an in-process job runner): a folder written
 * by saveSae with a SAELens 5-style cfg.json is imported; an SAE is exported
 * and read back by loadSae with the same weights; text is encoded by a random
 * SAE on the demo model as the route answers it; the server's refusals and an
 * unreachable server are reported; bad usage exits 2, naming the option.
 */
import { serve, type ServerType } from '@hono/node-server';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeResponseSchema } from '../../models/contracts/encode.ts';
import { saeSchema } from '../../models/contracts/trainings.ts';
import { logger } from '../../models/log.ts';
import { loadSae, saveSae } from '../../models/sae/saelens.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import type { SaeRow } from '../../db/queries/saes.ts';
import { registerDemoModel } from '../../workers/demo-model.ts';
import type { JobRunner } from '../../workers/runner.ts';
import { loupe } from '../testing/activations.ts';
import { createTestApp, startAnalysisWorker, type TestApp } from '../testing/app.ts';
import { createTestDatabase, type TestDatabase } from '../testing/db.ts';
import { randomSae } from '../testing/features.ts';
import { freePort } from '../testing/ports.ts';

const seq = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.cos(i * k));

describe('loupe sae', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: ServerType;
  let base: string;
  let runner: JobRunner;
  let random: SaeRow;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-sae-'));
  const dataDir = path.join(tmp, 'data');

  beforeAll(async () => {
    db = await createTestDatabase('loupe_cli_sae');
    await registerDemoModel(db.db, logger('test'));
    random = await randomSae(db.db, dataDir, { modelId: DEMO_MODEL_ID, hook: 'blocks.3.hook_resid_post', dIn: 256, dSae: 64, k: 8 });
    t = await createTestApp(db, dataDir, { analysisWaitMs: 60_000 });
    runner = await startAnalysisWorker(t, db, dataDir);
    const port = await freePort();
    server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await runner?.stop();
    await t.stop();
    await db.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('imports a SAELens 5 folder and exports it again: the same weights read by loadSae', async () => {
    const src = path.join(tmp, 'v5');
    const w = { W_enc: seq(8 * 12, 1), b_enc: seq(12, 2), W_dec: seq(12 * 8, 3), b_dec: seq(8, 4) };
    await saveSae(src, { architecture: 'relu', dIn: 8, dSae: 12, k: null, hookName: 'blocks.2.hook_resid_pre', hookLayer: 2, modelName: 'gpt2', contextSize: 128, prependBos: true, normalizeActivations: 'none', extra: {} }, w);
    // as SAELens 5 wrote it: hook fields at the top level, `standard`
    writeFileSync(path.join(src, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: 8, d_sae: 12, hook_name: 'blocks.2.hook_resid_pre', hook_layer: 2, model_name: 'gpt2', dtype: 'float32', context_size: 128, prepend_bos: true, normalize_activations: 'none' }));
    const imported = await loupe(['sae', 'import', src, '--name', 'from saelens', '--server', base]);
    expect(imported.code, imported.stderr).toBe(0);
    const sae = saeSchema.parse(JSON.parse(imported.stdout));
    expect(sae).toMatchObject({ name: 'from saelens', architecture: 'relu', dIn: 8, dSae: 12, hookPoint: 'blocks.2.hook_resid_pre' });
    expect(imported.stderr).toMatch(/imported from saelens \(relu, d_in 8, d_sae 12\)/);

    const out = path.join(tmp, 'exported');
    const exported = await loupe(['sae', 'export', sae.id, out], { LOUPE_SERVER: base });
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ id: sae.id, out, hookPoint: 'blocks.2.hook_resid_pre', files: { 'cfg.json': expect.any(Number), 'sae_weights.safetensors': expect.any(Number) } });
    const back = await loadSae(out);
    expect(back.cfg).toMatchObject({ architecture: 'relu', dIn: 8, dSae: 12, hookName: 'blocks.2.hook_resid_pre', hookLayer: 2, modelName: 'gpt2', contextSize: 128 });
    for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expect(Array.from(back.weights[n])).toEqual(Array.from(w[n]));
  });

  it('encodes text as POST /api/saes/{id}/encode answers it, and names the option of a bad request (exit 2)', async () => {
    const text = 'In the beginning God created the heaven and the earth.';
    const res = await t.request(`/api/saes/${random.id}/encode`, { method: 'POST', body: JSON.stringify({ text, topK: 3 }) });
    expect(res.status).toBe(200);
    const route = encodeResponseSchema.parse(await res.json());
    const r = await loupe(['sae', 'encode', random.id, '--text', text, '--top-k', '3', '--server', base]);
    expect(r.code, r.stderr).toBe(0);
    const printed = encodeResponseSchema.parse(JSON.parse(r.stdout));
    expect(printed.cached).toBe(true);
    expect({ ...printed, cached: false }).toEqual(route);
    expect(route.tokens.length).toBeGreaterThan(5);

    const usage: [string[], RegExp][] = [
      [['sae', 'encode', random.id, '--text', ' the'.repeat(600), '--server', base], /loupe sae: --text: 600 tokens exceed the model's context length 512/],
      [['sae', 'encode', random.id, '--ids', '1,99999', '--server', base], /loupe sae: --ids: ids\[1\] = 99999 is not below the model's vocabulary size 8192/],
      [['sae', 'encode', random.id, '--ids', '1', '--top-k', '0'], /loupe sae: --top-k: /],
      [['sae', 'encode', random.id, '--ids', '1', '--text', 'x'], /give exactly one of --text "\.\.\." or --ids/],
    ];
    const results = await Promise.all(usage.map(([args]) => loupe(args)));
    for (const [i, u] of results.entries()) {
      expect(u.code, u.stderr).toBe(2);
      expect(u.stderr).toMatch(usage[i]![1]);
    }
  }, 60_000);

  it('reports the server\'s refusal (exit 1), an unreachable server (exit 1) and bad usage (exit 2)', async () => {
    const missing = await loupe(['sae', 'import', path.join(tmp, 'nowhere'), '--server', base]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/loupe sae: Invalid request body: path: .*nowhere is not a SAELens folder/);
    const gone = await loupe(['sae', 'export', '00000000-0000-4000-8000-000000000001', path.join(tmp, 'x'), '--server', base]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/No SAE 00000000-0000-4000-8000-000000000001/);
    const down = await loupe(['sae', 'export', '00000000-0000-4000-8000-000000000001', path.join(tmp, 'x'), '--server', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+ .*is Loupe running\?/);
    const usage: [string[], RegExp][] = [
      [['sae', 'export', 'abc', 'dir'], /"abc" is not an SAE id/],
      [['sae', 'import'], /import takes one folder/],
      [['sae', 'frobnicate'], /unknown action "frobnicate"/],
      [['sae', 'import', 'dir', '--server', 'ftp://x'], /--server: "ftp:\/\/x" is not an http/],
    ];
    const results = await Promise.all(usage.map(([args]) => loupe(args)));
    for (const [i, r] of results.entries()) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(usage[i]![1]);
    }
  });
});
