/**
 * The scan of feature discovery (discover.ts): rows encoded by the SAE and
 * folded, feature by feature and row by row in order, into each feature's
 * activation count, sum, max, a histogram of its non-zero values and its
 * top-k peaks (at most one per context window). Two engines, one result:
 * on the WebGPU device with the WGSL kernels (sae/gpu/features.ts: the
 * activations never leave the device), or ONNX Runtime's encoder with the
 * folding on the host (the reference). {@link createScanner} picks one as
 * SAE training does (sae/gpu/choice.ts).
 */
import { createEncoder, forEachActive } from '../sae/encode.ts';
import { chooseWgsl, requestedDevice } from '../sae/gpu/choice.ts';
import { histogramBin } from '../sae/gpu/feature-kernels.ts';
import type { ScanState } from '../sae/gpu/features.ts';
import type { SaeConfig } from '../sae/saelens.ts';
import type { SaeWeights } from '../sae/stepper.ts';
import type { Device, Placement } from '../runtime.ts';

export type { ScanState };

/**
 * Log-spaced histogram edges of activation values: 10^-3 … 10^3, 10 bins a
 * decade (a feature's values span a decade or two: 10–20 bars on its page).
 */
export const HISTOGRAM_EDGES = Array.from({ length: 61 }, (_, i) => 10 ** (-3 + i / 10));

export interface FeatureScanner {
  readonly placement: Placement;
  /** rows a call of scan or pick may give at most */
  readonly capacity: number;
  /** Encodes rows x [rows, d_in] at these dataset positions and folds them into the state. */
  scan(x: Float32Array, positions: BigInt64Array, rows: number): Promise<void>;
  /** The state now: the scanner's own arrays (CPU) or copies (GPU); either way, not to be changed. */
  state(): Promise<ScanState>;
  /** The activations of rows x [rows, d_in] at the (row, feature) pairs of `queries` ([Q, 2]). */
  pick(x: Float32Array, rows: number, queries: Uint32Array): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface ScannerOptions {
  /** peaks kept a feature */
  topK: number;
  /** peaks closer than this (dataset positions) share a context window */
  span: number;
  /** rows at most a call (default 512) */
  capacity?: number;
  /** default LOUPE_DEVICE, else auto */
  device?: Device;
  /** a state to go on from (a checkpoint's) */
  resume?: ScanState | null;
}

/** An empty scan state, or a copy of `r`. */
export function scanState(dSae: number, topK: number, r?: ScanState | null): ScanState {
  const bins = HISTOGRAM_EDGES.length - 1;
  return {
    count: r ? r.count.slice() : new Float64Array(dSae),
    sum: r ? r.sum.slice() : new Float64Array(dSae),
    max: r ? r.max.slice() : new Float32Array(dSae),
    hist: r ? r.hist.slice() : new Uint32Array(dSae * bins),
    topVal: r ? r.topVal.slice() : new Float32Array(dSae * topK),
    topPos: r ? r.topPos.slice() : new Float64Array(dSae * topK).fill(-1),
    topSize: r ? r.topSize.slice() : new Uint8Array(dSae),
    topMin: r ? r.topMin.slice() : new Float32Array(dSae),
  };
}

/** A scanner on the device `o.device` asks for: the WGSL kernels where chooseWgsl says so, else ONNX Runtime. */
export async function createScanner(cfg: SaeConfig, w: SaeWeights, o: ScannerOptions): Promise<FeatureScanner> {
  const device = requestedDevice(o.device);
  const choice = await chooseWgsl(device);
  if (choice.wgsl) return gpuScanner(cfg, w, o, device);
  return cpuScanner(cfg, w, o, device, choice.reason);
}

async function gpuScanner(cfg: SaeConfig, w: SaeWeights, o: ScannerOptions, device: Device): Promise<FeatureScanner> {
  const { createGpuFeatureEncoder } = await import('../sae/gpu/features.ts');
  const enc = await createGpuFeatureEncoder(cfg, w, { capacity: o.capacity ?? 512, scan: { topK: o.topK, span: o.span, edges: HISTOGRAM_EDGES, resume: o.resume ?? null } });
  return {
    placement: { ...enc.placement, requested: device },
    capacity: enc.capacity,
    async scan(x, positions, rows) {
      enc.encode(x, rows);
      enc.scan(positions);
    },
    state: () => enc.scanState(),
    async pick(x, rows, queries) {
      enc.encode(x, rows);
      return enc.pick(queries);
    },
    release: () => enc.release(),
  };
}

async function cpuScanner(cfg: SaeConfig, w: SaeWeights, o: ScannerOptions, device: Device, reason: string | null): Promise<FeatureScanner> {
  const encoder = await createEncoder(cfg, w, { device });
  const S = cfg.dSae;
  const K = o.topK;
  const span = o.span;
  const bins = HISTOGRAM_EDGES.length - 1;
  const s = scanState(S, K, o.resume);
  const { count, sum, max, hist, topVal, topPos, topSize, topMin } = s;

  const offer = (f: number, v: number, pos: number) => {
    const base = f * K;
    const size = topSize[f]!;
    // one example per context window: a nearby kept peak is replaced only by a higher one
    for (let j = 0; j < size; j++) {
      if (Math.abs(topPos[base + j]! - pos) < span) {
        if (v > topVal[base + j]!) {
          topVal[base + j] = v;
          topPos[base + j] = pos;
          if (size === K) topMin[f] = minOf(topVal, base, K);
        }
        return;
      }
    }
    if (size < K) {
      topVal[base + size] = v;
      topPos[base + size] = pos;
      topSize[f] = size + 1;
      if (size + 1 === K) topMin[f] = minOf(topVal, base, K);
      return;
    }
    let m = 0;
    for (let j = 1; j < K; j++) if (topVal[base + j]! < topVal[base + m]!) m = j;
    topVal[base + m] = v;
    topPos[base + m] = pos;
    topMin[f] = minOf(topVal, base, K);
  };

  const p = encoder.placement;
  return {
    placement: { ...p, fallbackReason: p.fallbackReason ?? (p.provider === 'cpu' ? reason : null) },
    capacity: o.capacity ?? 512,
    async scan(x, positions, rows) {
      const enc = await encoder.encode(x, rows);
      forEachActive(enc, rows, S, (row, f, v) => {
        count[f]!++;
        sum[f]! += v;
        if (v > max[f]!) max[f] = v;
        hist[f * bins + histogramBin(HISTOGRAM_EDGES, v)]!++;
        if (topSize[f]! < K || v > topMin[f]!) offer(f, v, Number(positions[row]!));
      });
    },
    state: async () => s,
    async pick(x, rows, queries) {
      const enc = await encoder.encode(x, rows);
      const out = new Float32Array(queries.length / 2);
      for (let q = 0; q < out.length; q++) {
        const r = queries[2 * q]!;
        const f = queries[2 * q + 1]!;
        if (enc.kind === 'dense') out[q] = enc.acts[r * S + f]!;
        else for (let j = 0; j < enc.k; j++) if (Number(enc.indices[r * enc.k + j]!) === f) out[q] = Math.max(enc.values[r * enc.k + j]!, 0);
      }
      return out;
    },
    release: () => encoder.release(),
  };
}

function minOf(a: Float32Array, base: number, k: number): number {
  let m = Infinity;
  for (let j = 0; j < k; j++) if (a[base + j]! < m) m = a[base + j]!;
  return m;
}
