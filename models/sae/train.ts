/**
 * Trains one SAE on one hook of an activation store: shuffled batches from a
 * bounded mixing buffer of shards, input normalisation from the store's
 * statistics, b_dec initialised at the mean or the geometric median, learning
 * rate warm-up and decay, L1 warm-up, dead/dense feature tracking, metrics
 * every N steps and checkpoints every M steps from which a run resumes to the
 * same weights as an uninterrupted one.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { hookStats, readManifest, readShard, type HookManifest } from '../activations/store.ts';
import { openSafetensors, writeSafetensors } from '../safetensors.ts';
import type { Device } from '../runtime.ts';
import type { SaeArchitecture } from './graph.ts';
import { saveSae, type SaeConfig } from './saelens.ts';
import { createStepper, type SaeWeights } from './stepper.ts';

export interface TrainConfig {
  architecture: SaeArchitecture;
  /** d_sae; or give expansionFactor */
  dSae?: number;
  expansionFactor?: number;
  k?: number;
  /** ReLU: the L1 coefficient; JumpReLU: the L0 coefficient */
  l1Coefficient?: number;
  /** JumpReLU: initial threshold and the kernel width of its pseudo-derivative */
  initThreshold?: number;
  bandwidth?: number;
  l1WarmupSteps?: number;
  lr?: number;
  lrWarmupSteps?: number;
  /** fraction of the steps at the end over which lr decays linearly to 0 */
  lrDecayFraction?: number;
  beta1?: number;
  beta2?: number;
  batchSize?: number;
  totalTokens: number;
  /** scale inputs so that their mean norm is sqrt(d_in) (folded back into the saved weights) */
  normalizeInputs?: boolean;
  bDecInit?: 'mean' | 'geometric_median' | 'zeros';
  normalizeDecoder?: boolean;
  /** tokens without firing after which a feature counts as dead */
  deadFeatureWindow?: number;
  /** frequency above which a feature counts as dense */
  denseThreshold?: number;
  seed?: number;
  metricsEvery?: number;
  checkpointEvery?: number;
  /** shards shuffled together (memory bound: this many shards in RAM) */
  mixingShards?: number;
}

export interface TrainMetrics {
  step: number;
  tokens: number;
  loss: number;
  mse: number;
  l1: number;
  l0: number;
  explainedVariance: number;
  deadFraction: number;
  denseFraction: number;
  lr: number;
  l1Coefficient: number;
  tokensPerSecond: number;
}

export interface TrainOptions {
  activations: string;
  hook: string;
  out: string;
  config: TrainConfig;
  modelName?: string;
  device?: Device;
  threads?: number;
  signal?: AbortSignal;
  onMetrics?(m: TrainMetrics): void | Promise<void>;
  onCheckpoint?(step: number): void | Promise<void>;
}

export const TRAIN_DEFAULTS = {
  expansionFactor: 8,
  k: 32,
  initThreshold: 0.001,
  bandwidth: 0.001,
  l1Coefficient: 5,
  l1WarmupSteps: 0,
  lr: 4e-4,
  lrWarmupSteps: 0,
  lrDecayFraction: 0.2,
  beta1: 0.9,
  beta2: 0.999,
  batchSize: 1024,
  normalizeInputs: true,
  bDecInit: 'mean',
  normalizeDecoder: false,
  deadFeatureWindow: 1_000_000,
  denseThreshold: 0.1,
  seed: 42,
  metricsEvery: 10,
  checkpointEvery: 500,
  mixingShards: 4,
} as const;

/** A seeded 32-bit generator (mulberry32): the same stream for the same seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The batches of a training, in order: epochs over the shards in a seeded
 * order, `mixing` shards at a time shuffled together row by row.
 */
async function* batches(dir: string, h: HookManifest, batch: number, mixing: number, seed: number, scale: number): AsyncGenerator<Float32Array> {
  const d = h.d;
  const random = rng(seed);
  for (;;) {
    const order = h.shards.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let g = 0; g < order.length; g += mixing) {
      const group = order.slice(g, g + mixing);
      const shards = await Promise.all(group.map((i) => readShard(dir, h, i)));
      const rows = shards.reduce((a, s) => a + s.rows, 0);
      const perm = new Uint32Array(rows);
      for (let i = 0; i < rows; i++) perm[i] = i;
      for (let i = rows - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = t;
      }
      const locate: [Float32Array, number][] = [];
      for (const s of shards) for (let r = 0; r < s.rows; r++) locate.push([s.data, r * d]);
      for (let start = 0; start + batch <= rows; start += batch) {
        const x = new Float32Array(batch * d);
        for (let b = 0; b < batch; b++) {
          const [data, off] = locate[perm[start + b]!]!;
          for (let i = 0; i < d; i++) x[b * d + i] = data[off + i]! * scale;
        }
        yield x;
      }
    }
  }
}

/** Weiszfeld's algorithm on a sample of rows. */
function geometricMedian(points: Float32Array, n: number, d: number, iters = 50): Float32Array {
  const m = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) m[i]! += points[r * d + i]! / n;
  for (let it = 0; it < iters; it++) {
    const next = new Float64Array(d);
    let wsum = 0;
    for (let r = 0; r < n; r++) {
      let dist = 0;
      for (let i = 0; i < d; i++) dist += (points[r * d + i]! - m[i]!) ** 2;
      const w = 1 / Math.max(Math.sqrt(dist), 1e-8);
      wsum += w;
      for (let i = 0; i < d; i++) next[i]! += w * points[r * d + i]!;
    }
    for (let i = 0; i < d; i++) m[i] = next[i]! / wsum;
  }
  return Float32Array.from(m);
}

function initWeights(dIn: number, dSae: number, seed: number): SaeWeights {
  const random = rng(seed ^ 0x5ae);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const W_dec = new Float32Array(dSae * dIn);
  for (let s = 0; s < dSae; s++) {
    let n = 0;
    for (let i = 0; i < dIn; i++) n += (W_dec[s * dIn + i] = gauss()) ** 2;
    // unit-norm rows scaled to 0.1, as SAELens' decoder init
    const f = 0.1 / Math.sqrt(n);
    for (let i = 0; i < dIn; i++) W_dec[s * dIn + i]! *= f;
  }
  const W_enc = new Float32Array(dIn * dSae);
  for (let s = 0; s < dSae; s++) for (let i = 0; i < dIn; i++) W_enc[i * dSae + s] = W_dec[s * dIn + i]!;
  return { W_enc, b_enc: new Float32Array(dSae), W_dec, b_dec: new Float32Array(dIn) };
}

const CHECKPOINT = 'checkpoint.safetensors';

/** Trains, resuming from `out/checkpoints/checkpoint.safetensors` when present; writes the SAE to `out`. */
export async function trainSae(o: TrainOptions): Promise<{ config: SaeConfig; steps: number; metrics: TrainMetrics | null }> {
  const c = { ...TRAIN_DEFAULTS, ...o.config };
  const manifest = await readManifest(o.activations);
  if (!manifest) throw new Error(`${o.activations}: no activation manifest`);
  const h = manifest.hooks[o.hook];
  if (!h) throw new Error(`${o.activations}: no activations for hook "${o.hook}" (has ${Object.keys(manifest.hooks).join(', ')})`);
  const dIn = h.d;
  const dSae = c.dSae ?? Math.round(dIn * c.expansionFactor);
  const stats = hookStats(h);
  const scale = c.normalizeInputs && stats.meanNorm > 0 ? Math.sqrt(dIn) / stats.meanNorm : 1;
  const totalSteps = Math.max(1, Math.floor(c.totalTokens / c.batchSize));
  if (h.rows < c.batchSize) throw new Error(`${o.hook}: ${h.rows} stored rows are fewer than one batch of ${c.batchSize}`);
  const ckptDir = path.join(o.out, 'checkpoints');
  await fs.mkdir(ckptDir, { recursive: true });

  // state: fresh, or from the checkpoint
  let init: SaeWeights;
  let resume: { m: SaeWeights; v: SaeWeights; steps: number } | undefined;
  let lastFired = new Float64Array(dSae); // tokens seen when each feature last fired
  /** BatchTopK: running mean of the smallest kept activation, the inference threshold */
  let thresholdEma: number | null = null;
  const ckptFile = path.join(ckptDir, CHECKPOINT);
  const ckpt = await openSafetensors(ckptFile).catch(() => null);
  if (ckpt) {
    const get = async (n: string) => (await ckpt.read(n)) as Float32Array;
    const w = async (p: string): Promise<SaeWeights> => ({
      W_enc: await get(`${p}W_enc`),
      b_enc: await get(`${p}b_enc`),
      W_dec: await get(`${p}W_dec`),
      b_dec: await get(`${p}b_dec`),
      ...(ckpt.tensors.has(`${p}log_threshold`) ? { log_threshold: await get(`${p}log_threshold`) } : {}),
    });
    init = await w('');
    resume = { m: await w('m.'), v: await w('v.'), steps: Number(ckpt.metadata.step) };
    thresholdEma = ckpt.metadata.threshold_ema ? Number(ckpt.metadata.threshold_ema) : null;
    lastFired = Float64Array.from((await ckpt.read('last_fired')) as Float64Array);
    await ckpt.close();
  } else {
    init = initWeights(dIn, dSae, c.seed);
    if (c.architecture === 'jumprelu') init.log_threshold = new Float32Array(dSae).fill(Math.log(c.initThreshold));
    if (c.bDecInit === 'mean') init.b_dec = Float32Array.from(stats.mean, (v) => v * scale);
    else if (c.bDecInit === 'geometric_median') {
      const first = await readShard(o.activations, h, 0);
      const n = Math.min(first.rows, 4096);
      const sample = first.data.slice(0, n * dIn).map((v) => v * scale);
      init.b_dec = geometricMedian(sample, n, dIn);
    }
  }

  const stepper = await createStepper({ architecture: c.architecture, dIn, dSae, k: c.k, bandwidth: c.bandwidth, beta1: c.beta1, beta2: c.beta2, normalizeDecoder: c.normalizeDecoder, device: o.device, threads: o.threads }, init, resume);
  const source = batches(o.activations, h, c.batchSize, c.mixingShards, c.seed, scale);
  // skip the batches a resumed run has already trained on (same seeded order)
  for (let i = 0; i < stepper.steps; i++) await source.next();

  const lrAt = (step: number) => {
    const warm = c.lrWarmupSteps > 0 ? Math.min(1, (step + 1) / c.lrWarmupSteps) : 1;
    const decaySteps = Math.floor(totalSteps * c.lrDecayFraction);
    const decay = decaySteps > 0 && step >= totalSteps - decaySteps ? (totalSteps - step) / decaySteps : 1;
    return c.lr * warm * decay;
  };
  const l1At = (step: number) => c.l1Coefficient * (c.l1WarmupSteps > 0 ? Math.min(1, (step + 1) / c.l1WarmupSteps) : 1);

  const saveCheckpoint = async () => {
    const s = stepper.state();
    const t = (p: string, w: SaeWeights) => ({
      [`${p}W_enc`]: { dtype: 'F32' as const, shape: [dIn, dSae], data: w.W_enc },
      [`${p}b_enc`]: { dtype: 'F32' as const, shape: [dSae], data: w.b_enc },
      [`${p}W_dec`]: { dtype: 'F32' as const, shape: [dSae, dIn], data: w.W_dec },
      [`${p}b_dec`]: { dtype: 'F32' as const, shape: [dIn], data: w.b_dec },
      ...(w.log_threshold ? { [`${p}log_threshold`]: { dtype: 'F32' as const, shape: [dSae], data: w.log_threshold } } : {}),
    });
    const meta: Record<string, string> = { step: String(s.steps), scale: String(scale) };
    if (thresholdEma !== null) meta.threshold_ema = String(thresholdEma);
    await writeSafetensors(ckptFile, { ...t('', s.weights), ...t('m.', s.m), ...t('v.', s.v), last_fired: { dtype: 'F64', shape: [dSae], data: lastFired } }, meta);
    await o.onCheckpoint?.(s.steps);
  };

  let last: TrainMetrics | null = null;
  let windowStart = performance.now();
  let windowTokens = 0;
  const acc = { loss: 0, mse: 0, l1: 0, l0: 0, sse: 0, ev: 0, n: 0 };
  try {
    while (stepper.steps < totalSteps) {
      o.signal?.throwIfAborted();
      const step = stepper.steps;
      const x = (await source.next()).value as Float32Array;
      const lr = lrAt(step);
      const l1 = l1At(step);
      const m = await stepper.step(x, c.batchSize, { lr, l1 });
      const tokens = (step + 1) * c.batchSize;
      for (let s = 0; s < dSae; s++) if (m.fired[s]! > 0) lastFired[s] = tokens;
      if (m.batchThreshold !== null) thresholdEma = thresholdEma === null ? m.batchThreshold : 0.99 * thresholdEma + 0.01 * m.batchThreshold;
      windowTokens += c.batchSize;
      acc.loss += m.loss;
      acc.mse += m.mse;
      acc.l1 += m.l1;
      acc.l0 += m.l0;
      acc.ev += m.explainedVariance;
      acc.n++;
      if ((step + 1) % c.metricsEvery === 0 || step + 1 === totalSteps) {
        let dead = 0;
        let dense = 0;
        const window = Math.min(c.deadFeatureWindow, tokens);
        for (let s = 0; s < dSae; s++) if (tokens - lastFired[s]! >= window && tokens >= c.deadFeatureWindow) dead++;
        for (let s = 0; s < dSae; s++) if (m.fired[s]! / c.batchSize > c.denseThreshold) dense++;
        const secs = (performance.now() - windowStart) / 1000;
        last = {
          step: step + 1,
          tokens,
          loss: acc.loss / acc.n,
          mse: acc.mse / acc.n,
          l1: acc.l1 / acc.n,
          l0: acc.l0 / acc.n,
          explainedVariance: acc.ev / acc.n,
          deadFraction: dead / dSae,
          denseFraction: dense / dSae,
          lr,
          l1Coefficient: c.architecture === 'relu' || c.architecture === 'jumprelu' ? l1 : 0,
          tokensPerSecond: secs > 0 ? Math.round(windowTokens / secs) : 0,
        };
        Object.assign(acc, { loss: 0, mse: 0, l1: 0, l0: 0, sse: 0, ev: 0, n: 0 });
        windowStart = performance.now();
        windowTokens = 0;
        await o.onMetrics?.(last);
      }
      if ((step + 1) % c.checkpointEvery === 0) await saveCheckpoint();
    }
    // fold the input scale into the weights: the saved SAE takes raw activations
    const w = stepper.weights();
    const out: SaeWeights = {
      W_enc: w.W_enc.map((v) => v * scale),
      b_enc: w.b_enc.slice(),
      W_dec: w.W_dec.map((v) => v / scale),
      b_dec: w.b_dec.map((v) => v / scale),
    };
    // the pre-activations are unchanged by the folding, so thresholds carry over as they are
    if (w.log_threshold) out.threshold = w.log_threshold.map(Math.exp);
    if (c.architecture === 'batchtopk') out.threshold = new Float32Array(dSae).fill(thresholdEma ?? 0);
    const layer = /^blocks\.(\d+)\./.exec(o.hook);
    const config: SaeConfig = {
      architecture: c.architecture,
      dIn,
      dSae,
      k: c.architecture === 'topk' || c.architecture === 'batchtopk' ? c.k : null,
      hookName: o.hook,
      hookLayer: layer ? Number(layer[1]) : null,
      modelName: o.modelName ?? String(manifest.settings.model ?? ''),
      contextSize: typeof manifest.settings.contextLength === 'number' ? manifest.settings.contextLength : null,
      prependBos: manifest.settings.addBos === true,
      normalizeActivations: 'none',
      extra: {},
    };
    await saveSae(o.out, config, out);
    await saveCheckpoint();
    return { config, steps: stepper.steps, metrics: last };
  } finally {
    await source.return(undefined);
    await stepper.release();
  }
}
