/**
 * Checkpoints of an SAE training, `<out>/checkpoints/checkpoint.safetensors`
 * per hook: the weights, Adam's moments and the step, with what a resumed run
 * needs to go on exactly as an uninterrupted one would (when each feature last
 * fired, the density window, BatchTopK's threshold, the sums of the metrics
 * point in progress) and the settings it must share with the run that resumes
 * it.
 */
import path from 'node:path';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import type { AdamResume, SaeStepper, SaeWeights } from './stepper.ts';

/** The checkpoint file inside an SAE folder. */
export const CHECKPOINT_FILE = path.join('checkpoints', 'checkpoint.safetensors');

/** Settings a checkpoint must share with the run that resumes it (the data order and the shapes). */
const RESUME_KEYS = ['architecture', 'batchSize', 'seed', 'mixingShards'] as const;

/** The settings of a run that a checkpoint records, to be compared by {@link checkResumable}. */
export function resumeFingerprint(c: Record<(typeof RESUME_KEYS)[number], unknown>): Record<string, unknown> {
  return Object.fromEntries(RESUME_KEYS.map((k) => [k, c[k]]));
}

/** Sums behind one metrics point (kept in checkpoints, so a resumed window averages the same steps). */
export interface Acc {
  loss: number;
  mse: number;
  l1: number;
  l0: number;
  ev: number;
  n: number;
}

/** Sums of no step. */
export const emptyAcc = (): Acc => ({ loss: 0, mse: 0, l1: 0, l0: 0, ev: 0, n: 0 });

/** What a run tracks of one hook's SAE beside its weights and moments, kept in its checkpoints. */
export interface RunTracking {
  /** [d_sae] tokens seen when each feature last fired */
  lastFired: Float64Array;
  /** [d_sae] tokens of the current evaluation window on which each feature fired, and the window's tokens */
  windowFired: Float64Array;
  windowTokens: number;
  /** BatchTopK: running mean of the smallest kept activation, the inference threshold */
  thresholdEma: number | null;
  acc: Acc;
}

/** A checkpoint as read back: the weights to start from, Adam's state, the tracking and the recorded settings. */
export interface CheckpointState extends RunTracking {
  init: SaeWeights;
  resume: AdamResume;
  config: Record<string, unknown>;
}

/** Reads a checkpoint of an SAE of `dSae` features; null when there is none. */
export async function readCheckpoint(file: string, dSae: number): Promise<CheckpointState | null> {
  const ckpt = await openSafetensors(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!ckpt) return null;
  try {
    const get = async (n: string) => (await ckpt.read(n)) as Float32Array;
    const w = async (p: string): Promise<SaeWeights> => ({
      W_enc: await get(`${p}W_enc`),
      b_enc: await get(`${p}b_enc`),
      W_dec: await get(`${p}W_dec`),
      b_dec: await get(`${p}b_dec`),
      ...(ckpt.tensors.has(`${p}log_threshold`) ? { log_threshold: await get(`${p}log_threshold`) } : {}),
    });
    const meta = ckpt.metadata;
    const f64 = async (n: string) => (ckpt.tensors.has(n) ? Float64Array.from((await ckpt.read(n)) as Float64Array) : new Float64Array(dSae));
    return {
      init: await w(''),
      // u: the second moment as the train graph keeps it; v (torch's) in checkpoints written before
      resume: ckpt.tensors.has('u.W_enc') ? { m: await w('m.'), u: await w('u.'), steps: Number(meta.step) } : { m: await w('m.'), v: await w('v.'), steps: Number(meta.step) },
      lastFired: await f64('last_fired'),
      windowFired: await f64('window_fired'),
      windowTokens: Number(meta.window_tokens ?? 0),
      thresholdEma: meta.threshold_ema ? Number(meta.threshold_ema) : null,
      acc: meta.acc ? (JSON.parse(meta.acc) as Acc) : emptyAcc(),
      config: meta.config ? (JSON.parse(meta.config) as Record<string, unknown>) : {},
    };
  } finally {
    await ckpt.close();
  }
}

/** Throws, naming the setting, when a checkpoint was written with other settings than the run that would resume it (its {@link resumeFingerprint}). */
export function checkResumable(file: string, ckpt: CheckpointState, fingerprint: Record<string, unknown>): void {
  for (const key of RESUME_KEYS) {
    if (key in ckpt.config && ckpt.config[key] !== fingerprint[key]) {
      throw new Error(`${file}: cannot resume, ${key} was ${JSON.stringify(ckpt.config[key])} and is now ${JSON.stringify(fingerprint[key])} (use another folder to start afresh)`);
    }
  }
}

/**
 * Writes a checkpoint of one hook's SAE: the stepper's state `s` (weights
 * and moments, [d_in, d_sae] W_enc and [d_sae, d_in] W_dec as F32), the
 * run's tracking, its input scale and the run's `fingerprint`.
 */
export async function writeCheckpoint(file: string, s: Awaited<ReturnType<SaeStepper['state']>>, run: RunTracking & { dIn: number; dSae: number; scale: number }, fingerprint: Record<string, unknown>): Promise<void> {
  const { dIn, dSae } = run;
  const t = (p: string, w: SaeWeights): Record<string, TensorToWrite> => ({
    [`${p}W_enc`]: { dtype: 'F32', shape: [dIn, dSae], data: w.W_enc },
    [`${p}b_enc`]: { dtype: 'F32', shape: [dSae], data: w.b_enc },
    [`${p}W_dec`]: { dtype: 'F32', shape: [dSae, dIn], data: w.W_dec },
    [`${p}b_dec`]: { dtype: 'F32', shape: [dIn], data: w.b_dec },
    ...(w.log_threshold ? { [`${p}log_threshold`]: { dtype: 'F32' as const, shape: [dSae], data: w.log_threshold } } : {}),
  });
  const meta: Record<string, string> = {
    step: String(s.steps),
    scale: String(run.scale),
    window_tokens: String(run.windowTokens),
    acc: JSON.stringify(run.acc),
    config: JSON.stringify(fingerprint),
  };
  if (run.thresholdEma !== null) meta.threshold_ema = String(run.thresholdEma);
  await writeSafetensors(
    file,
    { ...t('', s.weights), ...t('m.', s.m), ...t('u.', s.u), last_fired: { dtype: 'F64', shape: [dSae], data: run.lastFired }, window_fired: { dtype: 'F64', shape: [dSae], data: run.windowFired } },
    meta,
  );
}
