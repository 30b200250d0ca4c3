/**
 * Trains SAEs on an activation store: one SAE per hook point, all of them
 * step by step on the same batch order in one pass over the data (the store's
 * shards hold the same rows for every hook). Shuffled batches from a bounded
 * mixing buffer of shards, input normalisation from the store's statistics,
 * b_dec initialised at the mean or the geometric median, learning rate
 * warm-up and decay, L1 warm-up, dead/dense feature tracking, metrics every N
 * steps, an evaluation callback (feature density over the last window, and
 * whatever the caller measures, e.g. CE-loss recovered) every E steps, and
 * checkpoints every M steps from which a run resumes to the same weights and
 * the same metrics as an uninterrupted one.
 *
 * A run ends completed (every step trained), stopped (asked to stop: the SAE
 * is saved from the current weights) or paused (asked to pause: a checkpoint
 * is written and nothing else). An aborted signal throws at once, writing
 * nothing more (the last checkpoint stays).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { hookStats, readManifest, readShard, type HookManifest } from '../activations/store.ts';
import { TRAIN_DEFAULTS } from '../contracts/trainings.ts';
import type { Device, Placement } from '../runtime.ts';
import { BatchOrder } from './batches.ts';
import { CHECKPOINT_FILE, checkResumable, emptyAcc, readCheckpoint, resumeFingerprint, writeCheckpoint, type RunTracking } from './checkpoint.ts';
import { densityHistogram, type DensityHistogram } from './density.ts';
import type { SaeArchitecture } from './graph.ts';
import { geometricMedian, initWeights } from './init.ts';
import { saveSae, type SaeConfig } from './saelens.ts';
import { createTrainingStepper, type SaeStepper, type SaeWeights } from './stepper.ts';

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
  /** steps between evaluations (0: only at the end); used when the caller passes `evaluate` */
  evalEvery?: number;
  /** shards shuffled together (memory bound: this many shards per hook in RAM) */
  mixingShards?: number;
}

/** The metrics of one hook's SAE, averaged over the steps since the previous point. */
export interface TrainMetrics {
  hook: string;
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

/** What an evaluation gets: one hook's SAE at a step, with its feature density since the previous evaluation. */
export interface EvalPoint {
  hook: string;
  step: number;
  tokens: number;
  /** [d_sae] fraction of the window's tokens on which each feature fired */
  featureFrequency: Float64Array;
  /** log10 feature frequency over the window */
  density: DensityHistogram;
  /** the SAE as it would be saved now: its config and weights for raw (unnormalised) activations */
  sae(): Promise<{ config: SaeConfig; weights: SaeWeights }>;
}

/** Where a run is, after every step. */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  tokens: number;
  totalTokens: number;
  /** this run's rate (a resumed run counts from where it started), tokens/s */
  tokensPerSecond: number;
  etaSeconds: number | null;
}

/** A request to end a run early: `pause` writes a checkpoint; `stop` also saves the SAE from the current weights. */
export type StopRequest = 'pause' | 'stop';

/** One hook point to train on and the folder its SAE goes to (SAELens layout, checkpoints/ inside). */
export interface HookTarget {
  hook: string;
  out: string;
}

export interface TrainSaesOptions {
  activations: string;
  hooks: readonly HookTarget[];
  config: TrainConfig;
  modelName?: string;
  device?: Device;
  threads?: number;
  signal?: AbortSignal;
  /** Polled before every step. */
  shouldStop?(): StopRequest | null;
  onMetrics?(m: TrainMetrics): void | Promise<void>;
  /** every `evalEvery` steps and at the end (completed or stopped), per hook, awaited before the checkpoint of that step */
  evaluate?(e: EvalPoint): void | Promise<void>;
  onCheckpoint?(step: number, hook: string): void | Promise<void>;
  onProgress?(p: TrainProgress): void;
  /** where the steps run, once each hook's stepper is made (every hook's runs alike) */
  onPlacement?(p: Placement): void;
}

export interface TrainOptions extends Omit<TrainSaesOptions, 'hooks'> {
  hook: string;
  out: string;
}

/** How a run ended. */
export type TrainOutcome = 'completed' | 'stopped' | 'paused';

export interface HookResult {
  hook: string;
  out: string;
  dIn: number;
  dSae: number;
  /** the saved SAE's config (null when paused) */
  config: SaeConfig | null;
  /** the last metrics point of this run (null when it reported none) */
  metrics: TrainMetrics | null;
  /** step of the hook's last checkpoint */
  checkpointStep: number;
}

export interface TrainResult {
  outcome: TrainOutcome;
  /** steps trained in all (the run's last step) */
  steps: number;
  totalSteps: number;
  /** the step this run resumed from (0 for a fresh run) */
  resumedAt: number;
  hooks: HookResult[];
}

// The defaults live with the API's contract, which the web form shares; re-exported for the trainer's callers.
export { TRAIN_DEFAULTS };

/** d_sae of a config for an input width (dSae, else round(d_in · expansionFactor)). */
export function resolveDSae(c: Pick<TrainConfig, 'dSae' | 'expansionFactor'>, dIn: number): number {
  return c.dSae ?? Math.round(dIn * (c.expansionFactor ?? TRAIN_DEFAULTS.expansionFactor));
}

/** Steps of a run: whole batches of the token budget (at least one). */
export function totalStepsOf(c: Pick<TrainConfig, 'totalTokens' | 'batchSize'>): number {
  return Math.max(1, Math.floor(c.totalTokens / (c.batchSize ?? TRAIN_DEFAULTS.batchSize)));
}

/** The state of one hook's SAE during a run. */
interface HookRun extends RunTracking {
  target: HookTarget;
  h: HookManifest;
  dIn: number;
  dSae: number;
  /** input scale (normalisation), folded back into the saved weights */
  scale: number;
  stepper: SaeStepper;
  last: TrainMetrics | null;
  checkpointStep: number;
  ckptFile: string;
}

/** Trains one SAE on one hook, resuming from `out/checkpoints/checkpoint.safetensors` when present; writes the SAE to `out`. */
export async function trainSae(o: TrainOptions): Promise<{ outcome: TrainOutcome; config: SaeConfig | null; steps: number; metrics: TrainMetrics | null }> {
  const { hook, out, ...rest } = o;
  const r = await trainSaes({ ...rest, hooks: [{ hook, out }] });
  const h = r.hooks[0]!;
  return { outcome: r.outcome, config: h.config, steps: r.steps, metrics: h.metrics };
}

/**
 * Trains one SAE per hook in one pass over the activations, each resuming
 * from the checkpoint in its folder when there is one (hooks whose
 * checkpoints are at different steps — a crash between two checkpoint
 * writes — skip the batches they have already trained on).
 */
export async function trainSaes(o: TrainSaesOptions): Promise<TrainResult> {
  // undefined fields (options left out) keep their defaults
  const given = Object.fromEntries(Object.entries(o.config).filter(([, v]) => v !== undefined && v !== null)) as TrainConfig;
  const c = { ...TRAIN_DEFAULTS, ...given };
  if (o.hooks.length === 0) throw new Error('no hook point to train on');
  if (new Set(o.hooks.map((t) => t.hook)).size !== o.hooks.length) throw new Error('a hook point is listed twice');
  const manifest = await readManifest(o.activations);
  if (!manifest) throw new Error(`${o.activations}: no activation manifest`);
  const hms = o.hooks.map((t) => {
    const h = manifest.hooks[t.hook];
    if (!h) throw new Error(`${o.activations}: no activations for hook "${t.hook}" (has ${Object.keys(manifest.hooks).join(', ')})`);
    if (h.rows < c.batchSize) throw new Error(`${t.hook}: ${h.rows} stored rows are fewer than one batch of ${c.batchSize}`);
    return h;
  });
  for (const h of hms.slice(1)) {
    if (h.shards.map((s) => s.rows).join() !== hms[0]!.shards.map((s) => s.rows).join()) throw new Error(`${o.activations}: hooks ${hms[0]!.hook} and ${h.hook} hold different shards`);
  }
  const totalSteps = totalStepsOf(c);
  const fingerprint = resumeFingerprint(c);

  const runs: HookRun[] = [];
  try {
    for (const [k, target] of o.hooks.entries()) {
      const h = hms[k]!;
      const dIn = h.d;
      const dSae = resolveDSae(c, dIn);
      const stats = hookStats(h);
      const scale = c.normalizeInputs && stats.meanNorm > 0 ? Math.sqrt(dIn) / stats.meanNorm : 1;
      const ckptFile = path.join(target.out, CHECKPOINT_FILE);
      await fs.mkdir(path.dirname(ckptFile), { recursive: true });
      const ckpt = await readCheckpoint(ckptFile, dSae);
      if (ckpt) checkResumable(ckptFile, ckpt, fingerprint);
      let init: SaeWeights;
      if (ckpt) init = ckpt.init;
      else {
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
      const stepper = await createTrainingStepper(
        { architecture: c.architecture, dIn, dSae, k: c.k, bandwidth: c.bandwidth, beta1: c.beta1, beta2: c.beta2, normalizeDecoder: c.normalizeDecoder, device: o.device, threads: o.threads },
        init,
        ckpt?.resume,
      );
      o.onPlacement?.(stepper.placement);
      runs.push({
        target,
        h,
        dIn,
        dSae,
        scale,
        stepper,
        lastFired: ckpt?.lastFired ?? new Float64Array(dSae),
        windowFired: ckpt?.windowFired ?? new Float64Array(dSae),
        windowTokens: ckpt?.windowTokens ?? 0,
        thresholdEma: ckpt?.thresholdEma ?? null,
        acc: ckpt?.acc ?? emptyAcc(),
        last: null,
        checkpointStep: ckpt?.resume.steps ?? 0,
        ckptFile,
      });
    }

    const lrAt = (step: number) => {
      const warm = c.lrWarmupSteps > 0 ? Math.min(1, (step + 1) / c.lrWarmupSteps) : 1;
      const decaySteps = Math.floor(totalSteps * c.lrDecayFraction);
      const decay = decaySteps > 0 && step >= totalSteps - decaySteps ? (totalSteps - step) / decaySteps : 1;
      return c.lr * warm * decay;
    };
    const l1At = (step: number) => c.l1Coefficient * (c.l1WarmupSteps > 0 ? Math.min(1, (step + 1) / c.l1WarmupSteps) : 1);

    const saveCheckpoint = async (r: HookRun) => {
      const s = await r.stepper.state();
      await writeCheckpoint(r.ckptFile, s, r, fingerprint);
      r.checkpointStep = s.steps;
      await o.onCheckpoint?.(s.steps, r.target.hook);
    };

    const saeOf = async (r: HookRun): Promise<{ config: SaeConfig; weights: SaeWeights }> => {
      // fold the input scale into the weights: the saved SAE takes raw activations
      const w = await r.stepper.weights();
      const { scale } = r;
      const out: SaeWeights = { W_enc: w.W_enc.map((v) => v * scale), b_enc: w.b_enc.slice(), W_dec: w.W_dec.map((v) => v / scale), b_dec: w.b_dec.map((v) => v / scale) };
      // the pre-activations are unchanged by the folding, so thresholds carry over as they are
      if (w.log_threshold) out.threshold = w.log_threshold.map(Math.exp);
      if (c.architecture === 'batchtopk') out.threshold = new Float32Array(r.dSae).fill(r.thresholdEma ?? 0);
      const layer = /^blocks\.(\d+)\./.exec(r.target.hook);
      const config: SaeConfig = {
        architecture: c.architecture,
        dIn: r.dIn,
        dSae: r.dSae,
        k: c.architecture === 'topk' || c.architecture === 'batchtopk' ? c.k : null,
        hookName: r.target.hook,
        hookLayer: layer ? Number(layer[1]) : null,
        modelName: o.modelName ?? String(manifest.settings.model ?? ''),
        contextSize: typeof manifest.settings.contextLength === 'number' ? manifest.settings.contextLength : null,
        prependBos: manifest.settings.prependBos === true || manifest.settings.addBos === true,
        normalizeActivations: 'none',
        extra: {},
      };
      return { config, weights: out };
    };

    const reportMetrics = async (r: HookRun, step: number, lr: number, l1: number, fired: Float32Array | null, secs: number, windowTokens: number) => {
      const tokens = step * c.batchSize;
      let dead = 0;
      let dense = 0;
      const window = Math.min(c.deadFeatureWindow, tokens);
      for (let s = 0; s < r.dSae; s++) if (tokens - r.lastFired[s]! >= window && tokens >= c.deadFeatureWindow) dead++;
      if (fired) for (let s = 0; s < r.dSae; s++) if (fired[s]! / c.batchSize > c.denseThreshold) dense++;
      const a = r.acc;
      r.last = {
        hook: r.target.hook,
        step,
        tokens,
        loss: a.loss / a.n,
        mse: a.mse / a.n,
        l1: a.l1 / a.n,
        l0: a.l0 / a.n,
        explainedVariance: a.ev / a.n,
        deadFraction: dead / r.dSae,
        denseFraction: dense / r.dSae,
        lr,
        l1Coefficient: c.architecture === 'relu' || c.architecture === 'jumprelu' ? l1 : 0,
        tokensPerSecond: secs > 0 ? Math.round(windowTokens / secs) : 0,
      };
      r.acc = emptyAcc();
      await o.onMetrics?.(r.last);
    };

    const evaluate = async (r: HookRun, step: number) => {
      if (o.evaluate && r.windowTokens > 0) {
        const featureFrequency = r.windowFired.map((f) => f / r.windowTokens);
        await o.evaluate({ hook: r.target.hook, step, tokens: step * c.batchSize, featureFrequency, density: densityHistogram(r.windowFired, r.windowTokens), sae: () => saeOf(r) });
      }
      r.windowFired.fill(0);
      r.windowTokens = 0;
    };

    const order = new BatchOrder(o.activations, hms, c.batchSize, c.mixingShards, c.seed);
    const resumedAt = Math.min(...runs.map((r) => r.stepper.steps));
    // skip the batches every hook has already trained on (same seeded order)
    for (let i = 0; i < resumedAt; i++) order.next();

    const started = performance.now();
    let windowStart = started;
    let windowTokens = 0;
    let step = resumedAt;
    /** per hook, the `fired` counts of its latest step (for the dense fraction) */
    const lastFired: (Float32Array | null)[] = runs.map(() => null);
    let request: StopRequest | null = null;
    const progress = (s: number) => {
      const secs = (performance.now() - started) / 1000;
      const rate = secs > 0 ? ((s - resumedAt) * c.batchSize) / secs : 0;
      o.onProgress?.({
        step: s,
        totalSteps,
        tokens: s * c.batchSize,
        totalTokens: totalSteps * c.batchSize,
        tokensPerSecond: Math.round(rate),
        etaSeconds: rate > 0 ? Math.round(((totalSteps - s) * c.batchSize) / rate) : null,
      });
    };
    progress(step);

    while (step < totalSteps) {
      request = o.shouldStop?.() ?? null;
      if (request) break;
      o.signal?.throwIfAborted();
      order.next();
      const lr = lrAt(step);
      const l1 = l1At(step);
      const active = runs.filter((r) => r.stepper.steps === step);
      for (const [k, r] of runs.entries()) {
        if (!active.includes(r)) continue;
        const x = await order.read(k, r.scale);
        const m = await r.stepper.step(x, c.batchSize, { lr, l1 });
        const tokens = (step + 1) * c.batchSize;
        for (let s = 0; s < r.dSae; s++) {
          if (m.fired[s]! > 0) {
            r.lastFired[s] = tokens;
            r.windowFired[s]! += m.fired[s]!;
          }
        }
        r.windowTokens += c.batchSize;
        if (m.batchThreshold !== null) r.thresholdEma = r.thresholdEma === null ? m.batchThreshold : 0.99 * r.thresholdEma + 0.01 * m.batchThreshold;
        const a = r.acc;
        a.loss += m.loss;
        a.mse += m.mse;
        a.l1 += m.l1;
        a.l0 += m.l0;
        a.ev += m.explainedVariance;
        a.n++;
        lastFired[k] = m.fired;
      }
      windowTokens += c.batchSize;
      step++;
      const metricsDue = step % c.metricsEvery === 0 || step === totalSteps;
      const evalDue = (c.evalEvery > 0 && step % c.evalEvery === 0) || step === totalSteps;
      const ckptDue = step % c.checkpointEvery === 0;
      if (metricsDue) {
        const secs = (performance.now() - windowStart) / 1000;
        for (const r of active) await reportMetrics(r, step, lr, l1, lastFired[runs.indexOf(r)]!, secs, windowTokens);
        windowStart = performance.now();
        windowTokens = 0;
      }
      if (evalDue) for (const r of active) await evaluate(r, step);
      if (ckptDue) for (const r of active) await saveCheckpoint(r);
      progress(step);
    }

    if (request === 'pause') {
      for (const r of runs) if (r.checkpointStep !== r.stepper.steps) await saveCheckpoint(r);
      return { outcome: 'paused', steps: step, totalSteps, resumedAt, hooks: runs.map((r) => hookResult(r, null)) };
    }
    // completed or stopped: the last partial window is reported and evaluated, the SAE saved, then a checkpoint
    const results: HookResult[] = [];
    for (const [k, r] of runs.entries()) {
      if (request === 'stop' && r.acc.n > 0) await reportMetrics(r, r.stepper.steps, lrAt(r.stepper.steps - 1), l1At(r.stepper.steps - 1), lastFired[k] ?? null, (performance.now() - windowStart) / 1000, windowTokens);
      if (request === 'stop') await evaluate(r, r.stepper.steps);
      const sae = await saeOf(r);
      await saveSae(r.target.out, sae.config, sae.weights);
      if (r.checkpointStep !== r.stepper.steps) await saveCheckpoint(r);
      results.push(hookResult(r, sae.config));
    }
    return { outcome: request === 'stop' ? 'stopped' : 'completed', steps: step, totalSteps, resumedAt, hooks: results };
  } finally {
    await Promise.all(runs.map((r) => r.stepper.release()));
    // the parameters, moments and tracking arrays go with the runs, even if a callback still holds this closure
    runs.length = 0;
  }
}

function hookResult(r: HookRun, config: SaeConfig | null): HookResult {
  return { hook: r.target.hook, out: r.target.out, dIn: r.dIn, dSae: r.dSae, config, metrics: r.last, checkpointStep: r.checkpointStep };
}
