/**
 * The WGSL training step against the ONNX one (graph.ts through
 * onnxruntime-node on the CPU), from the same initial weights and batches,
 * for every architecture: one step within 1e-5, fifty within 1e-4 (weights,
 * Adam's moments, metrics; `fired` exactly), a resumed run bit for bit the
 * uninterrupted one, and no adapter as an error that says so. Relative
 * difference: max|a - b| / max|b| over a tensor. Runs on SwiftShader where
 * there is no GPU (vitest's `gpu` project sets its environment).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { saeParams, type SaeArchitecture } from '../graph.ts';
import { createStepper, type AdamResume, type SaeWeights, type StepMetrics, type StepperOptions } from '../stepper.ts';
import { releaseGpus } from './device.ts';
import { createGpuStepper } from './stepper.ts';

const D_IN = 32;
const D_SAE = 128;
const B = 64;
const K = 8;
const STEPS = 50;
const LR = 1e-3;
/** ReLU's L1 and JumpReLU's L0 coefficients: large enough to move the weights as much as the reconstruction does */
const L1: Record<SaeArchitecture, number> = { relu: 1, jumprelu: 0.01, topk: 0, batchtopk: 0 };
const ARCHS: SaeArchitecture[] = ['relu', 'topk', 'batchtopk', 'jumprelu'];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** `n` batches [B, D_IN] of synthetic activations: 3 of 64 ground-truth directions a token, plus noise and an offset. */
function batches(n: number, seed: number, rows = B): Float32Array[] {
  const g = gaussian(rng(seed));
  const dirs = Array.from({ length: 64 }, () => Array.from({ length: D_IN }, g));
  const random = rng(seed + 1);
  return Array.from({ length: n }, () => {
    const x = new Float32Array(rows * D_IN);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < D_IN; i++) x[r * D_IN + i] = 0.2 + 0.05 * g();
      for (let j = 0; j < 3; j++) {
        const d = dirs[Math.floor(random() * 64)]!;
        const a = 0.2 + 0.5 * random();
        for (let i = 0; i < D_IN; i++) x[r * D_IN + i]! += a * d[i]!;
      }
    }
    return x;
  });
}

/** train.ts's initialisation: decoder rows of norm 0.1, W_enc = W_decᵀ, zero biases; JumpReLU's threshold near the pre-activations. */
function initWeights(arch: SaeArchitecture): SaeWeights {
  const g = gaussian(rng(7));
  const W_dec = new Float32Array(D_SAE * D_IN);
  for (let s = 0; s < D_SAE; s++) {
    let n = 0;
    for (let i = 0; i < D_IN; i++) n += (W_dec[s * D_IN + i] = g()) ** 2;
    for (let i = 0; i < D_IN; i++) W_dec[s * D_IN + i]! *= 0.1 / Math.sqrt(n);
  }
  const W_enc = new Float32Array(D_IN * D_SAE);
  for (let s = 0; s < D_SAE; s++) for (let i = 0; i < D_IN; i++) W_enc[i * D_SAE + s] = W_dec[s * D_IN + i]!;
  const w: SaeWeights = { W_enc, b_enc: new Float32Array(D_SAE), W_dec, b_dec: new Float32Array(D_IN) };
  if (arch === 'jumprelu') w.log_threshold = new Float32Array(D_SAE).fill(Math.log(0.1));
  return w;
}

/** Each architecture as it might train: normalised decoders for TopK and BatchTopK; a bandwidth the pre-activations fall in. */
function options(arch: SaeArchitecture): StepperOptions {
  return { architecture: arch, dIn: D_IN, dSae: D_SAE, k: K, bandwidth: 0.05, normalizeDecoder: arch === 'topk' || arch === 'batchtopk' };
}

/** max|a - b| / max|b| */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / Math.max(m, 1e-30);
}

type State = { weights: SaeWeights; m: SaeWeights; u: SaeWeights; steps: number };

/** The relative difference of every tensor of two states, by `weights.W_enc`, `m.b_dec`, … */
function stateDiff(arch: SaeArchitecture, a: State, b: State): Record<string, number> {
  expect(a.steps).toBe(b.steps);
  const out: Record<string, number> = {};
  for (const part of ['weights', 'm', 'u'] as const) {
    for (const n of saeParams(arch)) out[`${part}.${n}`] = rel(a[part][n]!, b[part][n]!);
  }
  return out;
}

/**
 * The relative difference of each scalar metric; `fired` must match exactly.
 * Explained variance is compared as 1 - EV = Σ(x̂-x)² / Σ(x - mean x)², the
 * ratio both sides compute: EV itself, near 0 early in training, is a
 * difference of near-equal numbers that multiplies the ratio's rounding
 * (3e-7 of a ratio of 0.999 is 4e-4 of an EV of 0.0007).
 */
function metricsDiff(a: StepMetrics, b: StepMetrics): Record<string, number> {
  expect(Array.from(a.fired)).toEqual(Array.from(b.fired));
  expect(a.batchThreshold === null).toBe(b.batchThreshold === null);
  const out: Record<string, number> = {};
  for (const key of ['loss', 'mse', 'l1', 'l0', 'batchThreshold'] as const) {
    if (b[key] !== null) out[key] = rel([a[key]!], [b[key]!]);
  }
  out.unexplained = rel([1 - a.explainedVariance], [1 - b.explainedVariance]);
  return out;
}

const worst = (d: Record<string, number>) => Math.max(...Object.values(d));
const merge = (into: Record<string, number>, d: Record<string, number>) => {
  for (const [k, v] of Object.entries(d)) into[k] = Math.max(into[k] ?? 0, v);
};
const report = (what: string, d: Record<string, number>) => {
  if (process.env.LOUPE_PRINT_ERRORS) console.log(what, worst(d).toExponential(2), Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.toExponential(2)])));
};

/** `steps` steps of a stepper over the batches from `from` on, with their metrics. */
async function train(s: { step: (x: Float32Array, b: number, hp: { lr: number; l1?: number }) => Promise<StepMetrics> }, arch: SaeArchitecture, xs: Float32Array[], from: number, steps: number): Promise<StepMetrics[]> {
  const out: StepMetrics[] = [];
  for (let t = from; t < from + steps; t++) {
    const m = await s.step(xs[t]!, B, { lr: LR, l1: L1[arch] });
    out.push({ ...m, fired: m.fired.slice() });
  }
  return out;
}

afterAll(() => releaseGpus());

describe.each(ARCHS)('%s SAE step in WGSL', (arch) => {
  const xs = batches(STEPS, 101);

  it('one step equals the ONNX step within 1e-5', async () => {
    const cpu = await createStepper({ ...options(arch), device: 'cpu' }, initWeights(arch));
    const gpu = await createGpuStepper(options(arch), initWeights(arch));
    const [mc] = await train(cpu, arch, xs, 0, 1);
    const [mg] = await train(gpu, arch, xs, 0, 1);
    const d = { ...stateDiff(arch, await gpu.state(), (await cpu.state())), ...metricsDiff(mg!, mc!) };
    report(`${arch} 1 step`, d);
    expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-5);
    // every part of the step took part: features fired, and JumpReLU's threshold moved
    expect(mg!.l0).toBeGreaterThan(0);
    if (arch === 'jumprelu') expect((await gpu.state()).m.log_threshold!.some((v) => v !== 0)).toBe(true);
    await Promise.all([cpu.release(), gpu.release()]);
  });

  it(`${STEPS} steps stay within 1e-4 of the ONNX steps`, async () => {
    const cpu = await createStepper({ ...options(arch), device: 'cpu' }, initWeights(arch));
    const gpu = await createGpuStepper(options(arch), initWeights(arch));
    const mc = await train(cpu, arch, xs, 0, STEPS);
    const mg = await train(gpu, arch, xs, 0, STEPS);
    const d = stateDiff(arch, await gpu.state(), (await cpu.state()));
    for (let t = 0; t < STEPS; t++) merge(d, metricsDiff(mg[t]!, mc[t]!));
    report(`${arch} ${STEPS} steps`, d);
    expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-4);
    expect(mg.at(-1)!.mse).toBeLessThan(mg[0]!.mse); // it trained
    await Promise.all([cpu.release(), gpu.release()]);
  });

  it('state() then a new stepper resumed from it continues exactly as an uninterrupted run', async () => {
    const whole = await createGpuStepper(options(arch), initWeights(arch));
    const mWhole = await train(whole, arch, xs, 0, STEPS);
    const first = await createGpuStepper(options(arch), initWeights(arch));
    await train(first, arch, xs, 0, 20);
    const ckpt = await first.state();
    await first.release(); // its buffers go: the checkpoint must be a copy
    const second = await createGpuStepper(options(arch), ckpt.weights, ckpt);
    expect(second.steps).toBe(20);
    const mSecond = await train(second, arch, xs, 20, STEPS - 20);
    const d = stateDiff(arch, await second.state(), await whole.state());
    for (let t = 20; t < STEPS; t++) merge(d, metricsDiff(mSecond[t - 20]!, mWhole[t]!));
    expect(worst(d), JSON.stringify(d)).toBe(0);
    await Promise.all([whole.release(), second.release()]);
  });

  it("resumes the ONNX stepper's checkpoint (second moment as u or as torch's v) and continues as it does", async () => {
    const cpu = await createStepper({ ...options(arch), device: 'cpu' }, initWeights(arch));
    await train(cpu, arch, xs, 0, 10);
    const ckpt = await cpu.state();
    const v = Object.fromEntries(saeParams(arch).map((n) => [n, ckpt.u[n]!.map((x) => (x * (1 - 0.999)) / (1 - 0.9) ** 2)])) as unknown as SaeWeights;
    const asV: AdamResume = { m: ckpt.m, v, steps: ckpt.steps };
    const fromU = await createGpuStepper(options(arch), ckpt.weights, ckpt);
    const fromV = await createGpuStepper(options(arch), ckpt.weights, asV);
    const cpuFromV = await createStepper({ ...options(arch), device: 'cpu' }, ckpt.weights, asV);
    const mc = await train(cpu, arch, xs, 10, 10);
    const mg = await train(fromU, arch, xs, 10, 10);
    await train(fromV, arch, xs, 10, 10);
    await train(cpuFromV, arch, xs, 10, 10);
    const d = stateDiff(arch, await fromU.state(), (await cpu.state()));
    for (let t = 0; t < 10; t++) merge(d, metricsDiff(mg[t]!, mc[t]!));
    merge(d, stateDiff(arch, await fromV.state(), (await cpuFromV.state())));
    expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-4);
    await Promise.all([cpu.release(), fromU.release(), fromV.release(), cpuFromV.release()]);
  });
});

describe('TopK and BatchTopK selection', () => {
  it.each(['topk', 'batchtopk'] as const)('%s: ties go to the lower index, as in ONNX Runtime’s TopK', async (arch) => {
    // Rows of x in threes and columns of W_enc in threes (the last five alike): equal pre-activations
    // in groups of 3 or 5 a row, 9, 15, 3 or 5 over the batch. With k = 4 (k·B = 256) no set of whole
    // groups adds up to k, so the last one kept is always split, by index.
    const k = 4;
    const [base] = batches(1, 5, Math.ceil(B / 3));
    const x = new Float32Array(B * D_IN);
    for (let r = 0; r < B; r++) x.set(base!.subarray(Math.floor(r / 3) * D_IN, (Math.floor(r / 3) + 1) * D_IN), r * D_IN);
    const init = initWeights(arch);
    const lead = (s: number) => Math.min(s - (s % 3), 123);
    for (let i = 0; i < D_IN; i++) for (let s = 0; s < D_SAE; s++) init.W_enc[i * D_SAE + s] = init.W_enc[i * D_SAE + lead(s)]!;
    const o = { ...options(arch), k };
    const cpu = await createStepper({ ...o, device: 'cpu' }, init);
    const gpu = await createGpuStepper(o, init);
    const mc = await cpu.step(x, B, { lr: LR });
    const mg = await gpu.step(x, B, { lr: LR });
    const d = { ...stateDiff(arch, await gpu.state(), (await cpu.state())), ...metricsDiff(mg, mc) };
    expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-5);
    expect(mg.l0).toBe(k);
    // a tie group was split: its first column fired more often than its last
    expect(Array.from({ length: D_SAE }, (_, s) => s).some((s) => lead(s) === s && mg.fired[s]! > mg.fired[s === 123 ? 127 : s + 2]!)).toBe(true);
    await Promise.all([cpu.release(), gpu.release()]);
  });

  it('k = d_sae keeps every positive pre-activation (BatchTopK: all of the batch)', async () => {
    for (const arch of ['topk', 'batchtopk'] as const) {
      const o = { ...options(arch), k: D_SAE };
      const cpu = await createStepper({ ...o, device: 'cpu' }, initWeights(arch));
      const gpu = await createGpuStepper(o, initWeights(arch));
      const [x] = batches(1, 9);
      const d = metricsDiff(await gpu.step(x!, B, { lr: LR }), await cpu.step(x!, B, { lr: LR }));
      expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-5);
      await Promise.all([cpu.release(), gpu.release()]);
    }
  });
});

describe('createGpuStepper', () => {
  it('checks shapes and k as createStepper does, with its messages', async () => {
    const bad: [StepperOptions, SaeWeights][] = [
      [options('relu'), { ...initWeights('relu'), b_enc: new Float32Array(3) }],
      [options('jumprelu'), initWeights('relu')],
      [{ ...options('topk'), k: D_SAE + 1 }, initWeights('topk')],
      [{ ...options('batchtopk'), k: 0 }, initWeights('batchtopk')],
    ];
    for (const [o, w] of bad) {
      const cpu = await createStepper({ ...o, device: 'cpu' }, w).then(
        () => null,
        (e: Error) => e.message,
      );
      expect(cpu).not.toBeNull();
      await expect(createGpuStepper(o, w)).rejects.toThrow(cpu!);
    }
    const s = await createGpuStepper(options('relu'), initWeights('relu'));
    await expect(s.step(new Float32Array(10), B, { lr: LR })).rejects.toThrow(`step: 10 values are not ${B} rows of ${D_IN}`);
    await s.release();
  });

  it('grows its batch buffers for a larger batch and takes smaller ones', async () => {
    const cpu = await createStepper({ ...options('topk'), device: 'cpu' }, initWeights('topk'));
    const gpu = await createGpuStepper(options('topk'), initWeights('topk'));
    for (const rows of [16, B, 40, 3 * B]) {
      const [x] = batches(1, rows, rows);
      const d = metricsDiff(await gpu.step(x!, rows, { lr: LR }), await cpu.step(x!, rows, { lr: LR }));
      expect(worst(d), `${rows} rows: ${JSON.stringify(d)}`).toBeLessThanOrEqual(1e-4);
    }
    const d = stateDiff('topk', await gpu.state(), (await cpu.state()));
    expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-4);
    await Promise.all([cpu.release(), gpu.release()]);
  });

  it.each(ARCHS)('%s: shapes that are no multiple of the tiles (d_in 30, d_sae 100, 37 rows)', async (arch) => {
    const o: StepperOptions = { ...options(arch), dIn: 30, dSae: 100, k: 7, normalizeDecoder: true };
    const random = gaussian(rng(3));
    const init: SaeWeights = {
      W_enc: Float32Array.from({ length: 30 * 100 }, () => 0.05 * random()),
      b_enc: Float32Array.from({ length: 100 }, () => 0.01 * random()),
      W_dec: Float32Array.from({ length: 100 * 30 }, () => 0.05 * random()),
      b_dec: Float32Array.from({ length: 30 }, () => 0.01 * random()),
      ...(arch === 'jumprelu' ? { log_threshold: new Float32Array(100).fill(Math.log(0.05)) } : {}),
    };
    const x = Float32Array.from({ length: 37 * 30 }, () => 0.2 + random());
    const cpu = await createStepper({ ...o, device: 'cpu' }, init);
    const gpu = await createGpuStepper(o, init);
    const hp = { lr: LR, l1: L1[arch] };
    const d = metricsDiff(await gpu.step(x, 37, hp), await cpu.step(x, 37, hp));
    const s = await gpu.state();
    const c = (await cpu.state());
    for (const part of ['weights', 'm', 'u'] as const) for (const n of saeParams(arch)) d[`${part}.${n}`] = rel(s[part][n]!, c[part][n]!);
    expect(worst(d), JSON.stringify(d)).toBeLessThanOrEqual(1e-5);
    await Promise.all([cpu.release(), gpu.release()]);
  });

  it('reports its adapter', async () => {
    const s = await createGpuStepper(options('relu'), initWeights('relu'));
    expect(s.placement).toMatchObject({ provider: 'webgpu', engine: 'wgsl', fallbackReason: null });
    expect(s.placement.adapter?.length).toBeGreaterThan(0);
    // SwiftShader, where the lane runs without a GPU, is a software adapter
    if (process.env.VK_DRIVER_FILES?.includes('swiftshader')) expect(s.placement).toMatchObject({ fallbackAdapter: true, adapter: expect.stringMatching(/SwiftShader/i) });
    await s.release();
  });

  it('without an adapter, throws an error that says so', async () => {
    // an adapter Dawn does not have
    await expect(createGpuStepper({ ...options('relu'), adapter: 'no-such-adapter' }, initWeights('relu'))).rejects.toThrow(/no WebGPU adapter: Dawn has no adapter named "no-such-adapter"/);
    // no Vulkan driver at all (a process of its own: the Vulkan loader reads VK_DRIVER_FILES once)
    const device = fileURLToPath(new URL('./device.ts', import.meta.url));
    const script = `import { requestGpu } from ${JSON.stringify(device)}; await requestGpu().then(() => console.log('adapter found'), (e) => console.log(e.message));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stdout).toMatch(/^no WebGPU adapter: requestAdapter\(\) returned null.*VK_DRIVER_FILES/);
  });
});
