/**
 * The analyses of one feature over its activations and through the model's
 * own graph (the logit lens, which reads only the model's head, is in
 * lens.ts):
 *
 * - Correlations: Pearson correlation of the feature's activations with every
 *   other feature's over stored rows, on the WGSL kernels where the device
 *   is a GPU (sae/gpu/choice.ts), else through ONNX Runtime's encoder.
 * - Ablation: x ← x + (target − a_f(x)) · W_dec[f] at the hook (zero: target
 *   0; clamp: any value), the SAE's error term untouched, so only that
 *   feature's contribution changes; the loss and next-token probabilities
 *   before and after.
 */
import type { Intervention } from '../architectures/decoder.ts';
import { readManifest, readShard } from '../activations/store.ts';
import type { LoadedModel } from '../model.ts';
import { DataType } from '../onnx/proto.ts';
import type { Value } from '../onnx/graph.ts';
import { ort, type Device, type Placement } from '../runtime.ts';
import { chooseWgsl, requestedDevice } from '../sae/gpu/choice.ts';
import { createEncoder, forEachActive } from '../sae/encode.ts';
import type { SaeConfig } from '../sae/saelens.ts';
import type { SaeWeights } from '../sae/stepper.ts';

export interface Correlation {
  feature: number;
  r: number;
}

/**
 * Pearson correlation of feature `f` with every other feature over the first
 * `maxRows` stored rows of the SAE's hook (features that never fire there
 * are left out).
 */
export async function correlations(activations: string, hook: string, cfg: SaeConfig, w: SaeWeights, f: number, opts: { maxRows?: number; k?: number; chunkRows?: number; device?: Device } = {}): Promise<{ rows: number; positive: Correlation[]; negative: Correlation[]; self: number; placement: Placement }> {
  const m = await readManifest(activations);
  const h = m?.hooks[hook];
  if (!h) throw new Error(`${activations}: no activations for hook "${hook}"`);
  const S = cfg.dSae;
  const maxRows = opts.maxRows ?? 50_000;
  const chunk = opts.chunkRows ?? 512;
  const device = requestedDevice(opts.device);
  const choice = await chooseWgsl(device);
  /** Calls `each(x, rows)` on the first maxRows stored rows, chunk by chunk; returns how many. */
  const forRows = async (each: (x: Float32Array, rows: number) => Promise<void>): Promise<number> => {
    let n = 0;
    for (let s = 0; s < h.shards.length && n < maxRows; s++) {
      const shard = await readShard(activations, h, s);
      for (let r0 = 0; r0 < shard.rows && n < maxRows; r0 += chunk) {
        const rows = Math.min(chunk, shard.rows - r0, maxRows - n);
        await each(shard.data.subarray(r0 * h.d, (r0 + rows) * h.d), rows);
        n += rows;
      }
    }
    return n;
  };
  let sum: Float64Array;
  let sumSq: Float64Array;
  let cross: Float64Array; // Σ a_f a_g
  let n: number;
  let placement: Placement;
  if (choice.wgsl) {
    // on the device: the activations never leave it, only the three sums a feature do
    const { createGpuFeatureEncoder } = await import('../sae/gpu/features.ts');
    const enc = await createGpuFeatureEncoder(cfg, w, { capacity: chunk });
    try {
      n = await forRows(async (x, rows) => {
        enc.encode(x, rows);
        enc.correlate(f);
      });
      ({ sum, sumSq, cross } = await enc.correlationSums());
      placement = { ...enc.placement, requested: device };
    } finally {
      await enc.release();
    }
  } else {
    sum = new Float64Array(S);
    sumSq = new Float64Array(S);
    cross = new Float64Array(S);
    const encoder = await createEncoder(cfg, w, { device });
    const p = encoder.placement;
    placement = { ...p, fallbackReason: p.fallbackReason ?? (p.provider === 'cpu' ? choice.reason : null) };
    try {
      const af = new Float64Array(chunk);
      n = await forRows(async (x, rows) => {
        const enc = await encoder.encode(x, rows);
        af.fill(0);
        forEachActive(enc, rows, S, (r, g, v) => {
          if (g === f) af[r] = v;
        });
        forEachActive(enc, rows, S, (r, g, v) => {
          sum[g]! += v;
          sumSq[g]! += v * v;
          cross[g]! += af[r]! * v;
        });
      });
    } finally {
      await encoder.release();
    }
  }
  const sumF = sum[f]!;
  const sumFF = sumSq[f]!;
  const varF = sumFF / n - (sumF / n) ** 2;
  const all: Correlation[] = [];
  let self = NaN;
  for (let g = 0; g < S; g++) {
    const varG = sumSq[g]! / n - (sum[g]! / n) ** 2;
    if (!(varG > 0) || !(varF > 0)) continue;
    const r = (cross[g]! / n - (sumF / n) * (sum[g]! / n)) / Math.sqrt(varF * varG);
    if (g === f) self = r;
    else all.push({ feature: g, r });
  }
  const k = opts.k ?? 10;
  all.sort((a, b) => b.r - a.r);
  return { rows: n, positive: all.slice(0, k).filter((c) => c.r > 0), negative: all.slice(-k).reverse().filter((c) => c.r < 0), self, placement };
}

/**
 * The intervention of an ablation at the SAE's hook: inputs `edit.feature`
 * (int64 [1]), `edit.target` (float [1]) and `edit.on` (float [1]: 0 leaves
 * the value as it is). The SAE's weights are baked in.
 */
export function ablationIntervention(cfg: SaeConfig, w: SaeWeights): Intervention {
  return (g, x) => {
    const { dIn, dSae } = cfg;
    const W_enc = g.initializer('edit.W_enc', DataType.FLOAT, [dIn, dSae], w.W_enc);
    const b_enc = g.initializer('edit.b_enc', DataType.FLOAT, [dSae], w.b_enc);
    const W_dec = g.initializer('edit.W_dec', DataType.FLOAT, [dSae, dIn], w.W_dec);
    const b_dec = g.initializer('edit.b_dec', DataType.FLOAT, [dIn], w.b_dec);
    const feature = g.input('edit.feature', DataType.INT64, [1]);
    const target = g.input('edit.target', DataType.FLOAT, [1]);
    const on = g.input('edit.on', DataType.FLOAT, [1]);
    const pre = g.add(g.matmul(g.sub(x, b_dec), W_enc), b_enc); // [B, T, s]
    let acts: Value;
    if (cfg.architecture === 'relu') acts = g.op('Relu', [pre]);
    else if (cfg.architecture === 'topk') {
      const [vals, idx] = g.node('TopK', [pre, g.constI([cfg.k!])], { axis: -1, largest: 1, sorted: 0 }, { outputs: 2 }) as [Value, Value];
      const zeros = g.op('ConstantOfShape', [g.op('Shape', [pre])], { value: { name: 'zero', dataType: DataType.FLOAT, dims: [1], raw: new Uint8Array(4) } });
      acts = g.op('ScatterElements', [zeros, idx, g.op('Relu', [vals])], { axis: -1 });
    } else {
      const t = g.initializer('edit.threshold', DataType.FLOAT, [dSae], w.threshold!);
      acts = g.mul(pre, g.cast(g.op('Greater', [pre, t]), DataType.FLOAT));
    }
    const af = g.op('Gather', [acts, feature], { axis: 2 }); // [B, T, 1]
    const dir = g.op('Gather', [W_dec, feature], { axis: 0 }); // [1, d]
    const delta = g.mul(g.mul(g.sub(target, af), on), dir); // [B, T, d]
    return g.add(x, delta);
  };
}

export interface AblationResult {
  /** mean next-token loss before and after, and the per-position change */
  lossBefore: number;
  lossAfter: number;
  perplexityBefore: number;
  perplexityAfter: number;
  /** [batch, pos - 1] after − before */
  deltaLoss: Float32Array;
  /** next-token probabilities that moved most, over all positions */
  moved: { row: number; pos: number; token: number; before: number; after: number }[];
}

function softmaxRow(logits: Float32Array, o: number, v: number, out: Float32Array): void {
  let m = -Infinity;
  for (let i = 0; i < v; i++) m = Math.max(m, logits[o + i]!);
  let s = 0;
  for (let i = 0; i < v; i++) s += out[i] = Math.exp(logits[o + i]! - m);
  for (let i = 0; i < v; i++) out[i]! /= s;
}

/** Zeroes (target 0) or clamps feature f on token ids [batch, pos] with a model loaded with {@link ablationIntervention}. */
export async function ablate(model: LoadedModel, f: number, ids: BigInt64Array, dims: readonly [number, number], opts: { target?: number; moved?: number } = {}): Promise<AblationResult> {
  const feeds = (on: number) => ({
    'edit.feature': new ort.Tensor('int64', BigInt64Array.of(BigInt(f)), [1]),
    'edit.target': new ort.Tensor('float32', Float32Array.of(opts.target ?? 0), [1]),
    'edit.on': new ort.Tensor('float32', Float32Array.of(on), [1]),
  });
  const before = await model.forward(ids, dims, ['token_nll', 'logits'], feeds(0));
  const after = await model.forward(ids, dims, ['token_nll', 'logits'], feeds(1));
  const nb = before.token_nll!.data;
  const na = after.token_nll!.data;
  const delta = na.map((v, i) => v - nb[i]!);
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const V = model.spec.vocabSize;
  const [B, T] = dims;
  const pb = new Float32Array(V);
  const pa = new Float32Array(V);
  const moved: AblationResult['moved'] = [];
  const keep = opts.moved ?? 10;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * V;
      softmaxRow(before.logits!.data, o, V, pb);
      softmaxRow(after.logits!.data, o, V, pa);
      for (let i = 0; i < V; i++) {
        const d = Math.abs(pa[i]! - pb[i]!);
        if (moved.length < keep || d > Math.abs(moved[moved.length - 1]!.after - moved[moved.length - 1]!.before)) {
          moved.push({ row: b, pos: t, token: i, before: pb[i]!, after: pa[i]! });
          moved.sort((x, y) => Math.abs(y.after - y.before) - Math.abs(x.after - x.before));
          if (moved.length > keep) moved.pop();
        }
      }
    }
  }
  const lb = mean(nb);
  const la = mean(na);
  return { lossBefore: lb, lossAfter: la, perplexityBefore: Math.exp(lb), perplexityAfter: Math.exp(la), deltaLoss: delta, moved };
}
