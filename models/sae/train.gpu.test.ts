/**
 * trainSae on the GPU lane: with device `webgpu` it trains on the
 * GPU-resident stepper (gpu/stepper.ts), and what it saves equals a CPU run
 * of the same config on the same rows; a run paused mid-way (a checkpoint
 * read back from the device) resumes to exactly the weights of an
 * uninterrupted GPU run. Tiny shapes: they prove results, not speed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openActivationWriter } from '../activations/store.ts';
import { createTrainingStepper } from './stepper.ts';
import { loadSae } from './saelens.ts';
import { trainSae, trainSaes, type TrainOptions } from './train.ts';

const HOOK = 'blocks.0.hook_resid_post';
const D = 32;
const ROWS = 64 * 64;

let dir: string;
let acts: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'loupe-train-gpu-'));
  acts = path.join(dir, 'acts');
  // rows with a few strong directions, as activations have
  let a = 12345;
  const rand = () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
  const dirs = Array.from({ length: 16 }, () => Float32Array.from({ length: D }, rand));
  const data = new Float32Array(ROWS * D);
  for (let r = 0; r < ROWS; r++) {
    for (let j = 0; j < 3; j++) {
      const v = dirs[Math.floor(((rand() + 1) / 2) * 16) % 16]!;
      const c = 2 * Math.abs(rand());
      for (let i = 0; i < D; i++) data[r * D + i]! += c * v[i]!;
    }
    for (let i = 0; i < D; i++) data[r * D + i]! += 0.05 * rand();
  }
  const writer = await openActivationWriter(acts, { hooks: [{ hook: HOOK, rowShape: [D] }], dtype: 'f32', windowsTotal: 64, windowsPerShard: 16, settings: { model: 'synthetic', contextLength: 64 } });
  for (let w = 0; w < 64; w += 16) {
    await writer.append(16, { [HOOK]: { data: data.slice(w * 64 * D, (w + 16) * 64 * D), rows: 16 * 64 } }, BigInt64Array.from({ length: 16 * 64 }, (_, i) => BigInt(w * 64 + i)));
  }
  await writer.finish();
}, 60_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** max |a - b| / max |b| over every weight of two saved SAEs */
async function saeDiff(a: string, b: string): Promise<number> {
  const x = await loadSae(a);
  const y = await loadSae(b);
  let worst = 0;
  for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) {
    const p = x.weights[n];
    const q = y.weights[n];
    let scale = 1e-12;
    for (const v of q) scale = Math.max(scale, Math.abs(v));
    let d = 0;
    for (let i = 0; i < q.length; i++) d = Math.max(d, Math.abs(p[i]! - q[i]!));
    worst = Math.max(worst, d / scale);
  }
  return worst;
}

const config: TrainOptions['config'] = { architecture: 'topk', k: 8, dSae: 128, lr: 3e-3, batchSize: 256, totalTokens: 16 * 256, metricsEvery: 4, checkpointEvery: 1000, seed: 7 };

describe('trainSae with device webgpu', () => {
  it('runs on the GPU-resident stepper', async () => {
    const s = await createTrainingStepper({ architecture: 'topk', dIn: D, dSae: 128, k: 8, device: 'webgpu' }, { W_enc: new Float32Array(D * 128), b_enc: new Float32Array(128), W_dec: new Float32Array(128 * D), b_dec: new Float32Array(D) });
    expect(s.placement).toMatchObject({ requested: 'webgpu', provider: 'webgpu', engine: 'wgsl', fallbackReason: null });
    expect(s.placement.adapter).toBeTruthy();
    await s.release();
  });

  it('saves what a CPU run saves (within 1e-4), and a paused run resumes to the uninterrupted one', async () => {
    const cpu = path.join(dir, 'cpu');
    const gpu = path.join(dir, 'gpu');
    const paused = path.join(dir, 'paused');
    await trainSae({ activations: acts, hook: HOOK, out: cpu, config, device: 'cpu' });
    const whole = await trainSae({ activations: acts, hook: HOOK, out: gpu, config, device: 'webgpu' });
    expect(whole.outcome).toBe('completed');
    expect(await saeDiff(gpu, cpu)).toBeLessThan(1e-4);

    let calls = 0;
    const first = await trainSae({ activations: acts, hook: HOOK, out: paused, config, device: 'webgpu', shouldStop: () => (++calls > 7 ? 'pause' : null) });
    expect(first.outcome).toBe('paused');
    expect(first.steps).toBe(7);
    const second = await trainSaes({ activations: acts, hooks: [{ hook: HOOK, out: paused }], config, device: 'webgpu' });
    expect(second).toMatchObject({ outcome: 'completed', resumedAt: 7, steps: 16 });
    expect(await saeDiff(paused, gpu)).toBeLessThan(1e-6);
  });
});
