/**
 * Training on the demo model's real activations (blocks.3.hook_resid_post of
 * the demo dataset): a TopK SAE reaches explained variance above 0.8 at L0
 * below 64, and a run stopped after a checkpoint resumes to the same weights.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractActivations } from '../activations/extract.ts';
import { openActivationWriter } from '../activations/store.ts';
import { loadModel } from '../model.ts';
import { loadTokenizer } from '../tokenizer.ts';
import { loadSae } from './saelens.ts';
import { ceLossRecovered, saeSplice } from './splice.ts';
import { trainSae, type TrainMetrics } from './train.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(ROOT, 'demo/models/tiny-gpt2-debian-6l');
const DATASET = path.join(ROOT, 'demo/datasets/debian-english-mix-heldout.jsonl');
const HOOK = 'blocks.3.hook_resid_post';
const T = 128;
const WINDOWS = 512; // 65,536 tokens

let dir: string;
let acts: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-train-'));
  acts = path.join(dir, 'acts');
  const tok = await loadTokenizer(DEMO);
  const ids: number[] = [];
  for (const line of (await readFile(DATASET, 'utf8')).split('\n')) {
    if (!line) continue;
    ids.push(...tok.encode(JSON.parse(line).text as string), tok.eosId!);
    if (ids.length >= WINDOWS * T) break;
  }
  const tokens = BigInt64Array.from(ids.slice(0, WINDOWS * T), BigInt);
  const model = await loadModel(DEMO, { device: 'cpu' });
  const writer = await openActivationWriter(acts, { hooks: [{ hook: HOOK, rowShape: [256] }], dtype: 'f32', windowsTotal: WINDOWS, windowsPerShard: 64, settings: { model: 'demo', contextLength: T } });
  await extractActivations({
    model,
    hooks: [HOOK],
    windows: { count: WINDOWS, length: T, read: async (f, n) => ({ ids: tokens.slice(f * T, (f + n) * T), starts: BigInt64Array.from({ length: n }, (_, k) => BigInt((f + k) * T)) }) },
    windowsTotal: WINDOWS,
    batchSize: 16,
    writer,
    skipTokenIds: [tok.eosId!],
  });
  await writer.finish();
  await model.close();
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trainSae on the demo model', () => {
  it('TopK k=32 reaches explained variance > 0.8 at L0 < 64, saved in SAELens layout', async () => {
    const out = path.join(dir, 'topk');
    const seen: TrainMetrics[] = [];
    const r = await trainSae({ activations: acts, hook: HOOK, out, config: { architecture: 'topk', k: 32, dSae: 2048, lr: 1e-3, batchSize: 1024, totalTokens: 300 * 1024, metricsEvery: 25, checkpointEvery: 100 }, onMetrics: (m) => void seen.push(m) });
    expect(r.steps).toBe(300);
    expect(seen.map((m) => m.step)).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) * 25));
    const final = seen.at(-1)!;
    expect(final.explainedVariance).toBeGreaterThan(0.8);
    expect(final.l0).toBeLessThan(64);
    expect(seen[0]!.loss).toBeGreaterThan(final.loss);
    const saved = await loadSae(out);
    expect(saved.cfg).toMatchObject({ architecture: 'topk', dIn: 256, dSae: 2048, k: 32, hookName: HOOK, hookLayer: 3 });
  }, 180_000);

  it('a run stopped after a checkpoint resumes to the same weights as an uninterrupted one', async () => {
    const config = { architecture: 'relu' as const, dSae: 512, l1Coefficient: 1, lr: 5e-4, batchSize: 512, totalTokens: 40 * 512, metricsEvery: 5, checkpointEvery: 10 };
    const whole = path.join(dir, 'whole');
    await trainSae({ activations: acts, hook: HOOK, out: whole, config });
    const cut = path.join(dir, 'cut');
    const ac = new AbortController();
    const steps: number[] = [];
    await expect(
      trainSae({ activations: acts, hook: HOOK, out: cut, config, signal: ac.signal, onMetrics: (m) => void (m.step >= 25 && ac.abort(new Error('stopped'))) }),
    ).rejects.toThrow(/stopped/);
    await trainSae({ activations: acts, hook: HOOK, out: cut, config, onMetrics: (m) => void steps.push(m.step) });
    expect(steps).toEqual([25, 30, 35, 40]); // resumed from the checkpoint at step 20
    const a = await loadSae(whole);
    const b = await loadSae(cut);
    for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expect(Buffer.from(b.weights[n].buffer).equals(Buffer.from(a.weights[n].buffer)), n).toBe(true);
  }, 120_000);

  it.each(['batchtopk', 'jumprelu'] as const)('%s trains, saves as a JumpReLU SAE with thresholds, and splices into the model', async (arch) => {
    const out = path.join(dir, arch);
    const seen: TrainMetrics[] = [];
    await trainSae({ activations: acts, hook: HOOK, out, config: { architecture: arch, k: 32, dSae: 512, lr: 1e-3, l1Coefficient: 0.05, initThreshold: 0.05, bandwidth: 0.05, batchSize: 512, totalTokens: 60 * 512, metricsEvery: 10 }, onMetrics: (m) => void seen.push(m) });
    expect(seen.at(-1)!.explainedVariance).toBeGreaterThan(seen[0]!.explainedVariance);
    expect(seen.at(-1)!.explainedVariance).toBeGreaterThan(0.3);
    const sae = await loadSae(out);
    expect(sae.cfg.architecture).toBe('jumprelu');
    expect(sae.weights.threshold!.length).toBe(512);
    expect(sae.weights.threshold!.every((t) => t > 0)).toBe(true);
    const model = await loadModel(DEMO, { device: 'cpu', interventions: { [HOOK]: saeSplice(sae.cfg) } });
    try {
      const tok = await loadTokenizer(DEMO);
      const line = (await readFile(DATASET, 'utf8')).split('\n')[3]!;
      const ids = BigInt64Array.from(tok.encode(JSON.parse(line).text as string).slice(0, 64), BigInt);
      const r = await ceLossRecovered(model, sae.cfg, sae.weights, ids, [1, ids.length]);
      expect(r.zero).toBeGreaterThan(r.clean);
      expect(r.recovered).toBeGreaterThan(0.2);
      expect(r.recovered).toBeLessThanOrEqual(1.05);
    } finally {
      await model.close();
    }
  }, 120_000);
});
