/**
 * Discovery and the analyses on the GPU equal the CPU path's (GPU lane:
 * LOUPE_DEVICE=webgpu, SwiftShader where there is no GPU).
 *
 * Discovery and correlations run an SAE of every architecture over
 * activations written to a real store at the positions of a real tokenized
 * dataset. The inputs and weights are small multiples of 1/64, so every
 * product and partial sum of the encoder is exact in f32 whatever the
 * order of summation: the CPU's ONNX encoder and the WGSL kernels then give
 * bit-equal activations, and everything discovery keeps (counts, sums,
 * histograms, the peaks and their order, ties included) must be equal, not
 * close. Ablation and extraction run the gpt2 architecture fixture through
 * ONNX Runtime's WebGPU provider against its CPU provider, within float
 * tolerance.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openActivationWriter } from '../activations/store.ts';
import { extractActivations } from '../activations/extract.ts';
import { openTokenStore, readDocOffsets, type TokenStore } from '../datasets/format.ts';
import { loadModel } from '../model.ts';
import type { SaeArchitecture } from '../sae/graph.ts';
import { releaseGpus } from '../sae/gpu/device.ts';
import type { SaeConfig } from '../sae/saelens.ts';
import type { SaeWeights } from '../sae/stepper.ts';
import { readHookRows } from '../../scripts/testing/activations.ts';
import { tokenizeDemo } from '../../scripts/testing/tokenized.ts';
import { ablate, ablationIntervention, correlations } from './analysis.ts';
import { discoverFeatures, type DiscoverCheckpoint } from './discover.ts';

const HOOK = 'blocks.1.hook_resid_post';
const FIXTURE = path.resolve(import.meta.dirname, '../architectures/fixtures/gpt2');
const D_IN = 32;
const D_SAE = 96; // not a multiple of the kernels' 64
let dir: string;
let acts: string;
let tokens: TokenStore;
let offsets: Float64Array;

/** A seeded generator of multiples of 1/64 in [-r, r]. */
function grid(seed: number) {
  let s = seed >>> 0;
  return (r: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.round(((s / 2 ** 32) * 2 - 1) * r * 64) / 64;
  };
}

function sae(architecture: SaeArchitecture, seed: number): { cfg: SaeConfig; weights: SaeWeights } {
  const g = grid(seed);
  const w: SaeWeights = {
    W_enc: Float32Array.from({ length: D_IN * D_SAE }, () => g(0.5)),
    b_enc: Float32Array.from({ length: D_SAE }, () => g(1)),
    W_dec: Float32Array.from({ length: D_SAE * D_IN }, () => g(0.5)),
    b_dec: Float32Array.from({ length: D_IN }, () => g(0.25)),
  };
  if (architecture === 'jumprelu' || architecture === 'batchtopk') w.threshold = Float32Array.from({ length: D_SAE }, () => Math.abs(g(1)));
  const cfg: SaeConfig = { architecture, dIn: D_IN, dSae: D_SAE, k: architecture === 'topk' ? 7 : null, hookName: HOOK, hookLayer: 1, modelName: 'test', contextSize: 64, prependBos: false, normalizeActivations: 'none', extra: {} };
  return { cfg, weights: w };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-features-gpu-'));
  await tokenizeDemo(path.join(dir, 'data'), 4_000);
  tokens = await openTokenStore(path.join(dir, 'data'));
  offsets = await readDocOffsets(path.join(dir, 'data'));
  // one row a token, every 11th left out (as BOS rows are), windows of 64 tokens, 8 windows a shard
  const T = 64;
  const windows = Math.floor(tokens.tokens / T);
  acts = path.join(dir, 'acts');
  const writer = await openActivationWriter(acts, { hooks: [{ hook: HOOK, rowShape: [D_IN] }], dtype: 'f32', windowsTotal: windows, windowsPerShard: 8, settings: { contextLength: T } });
  const g = grid(7);
  for (let w = 0; w < windows; w++) {
    const positions: bigint[] = [];
    for (let t = 0; t < T; t++) if ((w * T + t) % 11 !== 0) positions.push(BigInt(w * T + t));
    const data = Float32Array.from({ length: positions.length * D_IN }, () => g(2));
    await writer.append(1, { [HOOK]: { data, rows: positions.length } }, BigInt64Array.from(positions));
  }
  await writer.finish();
}, 120_000);

afterAll(async () => {
  await tokens?.close();
  await releaseGpus();
  await rm(dir, { recursive: true, force: true });
});

const run = (s: ReturnType<typeof sae>, device: 'cpu' | 'webgpu', more: Partial<Parameters<typeof discoverFeatures>[0]> = {}) =>
  discoverFeatures({ activations: acts, hook: HOOK, cfg: s.cfg, weights: s.weights, tokens, docOffsets: offsets, topK: 6, left: 5, right: 2, chunkRows: 200, device, ...more });

describe('discovery on the GPU', () => {
  for (const [arch, seed] of [['relu', 1], ['topk', 2], ['jumprelu', 3], ['batchtopk', 4]] as const) {
    it(`${arch}: every statistic and example equals the CPU's, and the scan ran on WGSL`, async () => {
      const s = sae(arch, seed);
      let placement: unknown;
      const [cpu, gpu] = [await run(s, 'cpu'), await run(s, 'webgpu', { onPlacement: (p) => (placement = p) })];
      expect(placement).toMatchObject({ requested: 'webgpu', provider: 'webgpu', engine: 'wgsl' });
      expect(gpu.rows).toBe(cpu.rows);
      const fired = cpu.features.filter((f) => f.frequency > 0).length;
      expect(fired).toBeGreaterThan(D_SAE / 3); // a test that something happened
      expect(cpu.features.filter((f) => f.examples.length === 6).length).toBeGreaterThan(10);
      expect(gpu.features).toEqual(cpu.features);
    });
  }

  it('resumes from a checkpoint of either pass and ends where an uninterrupted run does', async () => {
    const s = sae('topk', 5);
    const whole = await run(s, 'webgpu');
    const states: DiscoverCheckpoint[] = [];
    await run(s, 'webgpu', { checkpoint: { everyUnits: 1, everyMs: 0, save: async (c) => void states.push(structuredClone(c)) } });
    const scan = states.find((c) => c.phase === 'scan' && c.unit > 0 && c.unit < c.units)!;
    const examples = states.find((c) => c.phase === 'examples' && c.unit > 0 && c.unit < c.units)!;
    expect(scan && examples).toBeTruthy();
    expect(await run(s, 'webgpu', { resume: scan })).toEqual(whole);
    expect(await run(s, 'webgpu', { resume: examples })).toEqual(whole);
    // and a GPU checkpoint resumes on the CPU: the state is the same either way
    expect(await run(s, 'cpu', { resume: scan })).toEqual(whole);
  });
});

describe('analyses on the GPU', () => {
  it('correlations equal the CPU path\'s', async () => {
    for (const [arch, seed] of [['relu', 11], ['topk', 12]] as const) {
      const s = sae(arch, seed);
      const f = 5;
      const cpu = await correlations(acts, HOOK, s.cfg, s.weights, f, { device: 'cpu', maxRows: 1500, chunkRows: 256 });
      const gpu = await correlations(acts, HOOK, s.cfg, s.weights, f, { device: 'webgpu', maxRows: 1500, chunkRows: 256 });
      expect(gpu.placement).toMatchObject({ provider: 'webgpu', engine: 'wgsl' });
      expect(cpu.placement).toMatchObject({ provider: 'cpu', engine: 'onnxruntime', fallbackReason: null });
      expect(cpu.positive.length + cpu.negative.length).toBeGreaterThan(3);
      expect(gpu.rows).toBe(cpu.rows);
      expect(gpu.self).toBeCloseTo(1, 6);
      expect(gpu.positive.map((c) => c.feature)).toEqual(cpu.positive.map((c) => c.feature));
      expect(gpu.negative.map((c) => c.feature)).toEqual(cpu.negative.map((c) => c.feature));
      for (const [a, b] of [...gpu.positive.map((c, i) => [c.r, cpu.positive[i]!.r]), ...gpu.negative.map((c, i) => [c.r, cpu.negative[i]!.r])]) expect(Math.abs(a! - b!)).toBeLessThan(1e-6); // Σ a² is not exact in f32
    }
  });

  it('ablation through ONNX Runtime\'s WebGPU provider equals the CPU\'s', async () => {
    // the gpt2 architecture fixture (2 layers of 64): SwiftShader runs the demo model's 8192-token head slowly
    const cfg = { ...sae('relu', 21).cfg, dIn: 64 };
    const g = grid(22);
    const w: SaeWeights = { W_enc: Float32Array.from({ length: 64 * D_SAE }, () => g(1)), b_enc: Float32Array.from({ length: D_SAE }, () => g(0.5)), W_dec: Float32Array.from({ length: D_SAE * 64 }, () => g(2)), b_dec: new Float32Array(64) };
    const ids = BigInt64Array.from(await tokens.readTokens(0, 2 * 24), (t) => BigInt(t % 512));
    const result = async (device: 'cpu' | 'webgpu') => {
      const m = await loadModel(FIXTURE, { device, interventions: { 'blocks.0.hook_resid_post': ablationIntervention(cfg, w) } });
      try {
        return { r: await ablate(m, 3, ids, [2, 24], { moved: 5 }), provider: (await m.session(['token_nll', 'logits'])).provider };
      } finally {
        await m.close();
      }
    };
    const cpu = await result('cpu');
    const gpu = await result('webgpu');
    expect(gpu.provider).toBe('webgpu');
    expect(Math.abs(cpu.r.lossAfter - cpu.r.lossBefore)).toBeGreaterThan(1e-4); // the feature mattered
    expect(gpu.r.lossBefore).toBeCloseTo(cpu.r.lossBefore, 4);
    expect(gpu.r.lossAfter).toBeCloseTo(cpu.r.lossAfter, 4);
    let worst = 0;
    cpu.r.deltaLoss.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - gpu.r.deltaLoss[i]!))));
    expect(worst).toBeLessThan(1e-4);
    expect(gpu.r.moved.map((m) => [m.row, m.pos, m.token])).toEqual(cpu.r.moved.map((m) => [m.row, m.pos, m.token]));
  });
});

describe('extraction on the GPU', () => {
  it('stores the rows the CPU stores, at the same positions', async () => {
    const hooks = ['blocks.0.hook_resid_pre', 'blocks.1.hook_mlp_out', 'ln_final.hook_normalized'];
    const T = 32;
    const windows = 12;
    for (const device of ['cpu', 'webgpu'] as const) {
      const model = await loadModel(FIXTURE, { device });
      const writer = await openActivationWriter(path.join(dir, `ex-${device}`), { hooks: hooks.map((hook) => ({ hook, rowShape: [64] })), dtype: 'f32', windowsTotal: windows, windowsPerShard: 4, settings: { contextLength: T } });
      await extractActivations({
        model,
        hooks,
        windows: {
          count: windows,
          length: T,
          read: async (first, n) => ({ ids: BigInt64Array.from(await tokens.readTokens(first * T, n * T), (t) => BigInt(t % 512)), starts: BigInt64Array.from({ length: n }, (_, k) => BigInt((first + k) * T)) }),
        },
        windowsTotal: windows,
        batchSize: 4,
        writer,
        skipTokenIds: [0],
      });
      await writer.finish();
      await model.close();
    }
    for (const hook of hooks) {
      const [a, b] = [await readHookRows(path.join(dir, 'ex-cpu'), hook), await readHookRows(path.join(dir, 'ex-webgpu'), hook)];
      expect(b.positions).toEqual(a.positions);
      expect(a.rows.length).toBeGreaterThan(300);
      let worst = 0;
      a.rows.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b.rows[i]![j]!) / Math.max(1, Math.abs(v))))));
      expect(worst, hook).toBeLessThan(1e-4);
    }
  });
});
