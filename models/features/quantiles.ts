/**
 * Examples of a feature sampled from across its activation distribution,
 * besides its top ones (as Neuronpedia shows "subsample intervals"): the
 * feature's active values are cut into quantile bands (quartiles, from the
 * scan's histogram), and a few positions are kept per band from a sample of
 * the source's rows, spread evenly over its units. Deterministic: a
 * position is kept by the smallest hash of (position, feature) in its band,
 * one per context window, so two runs over the same data keep the same
 * examples. The rows are encoded on the CPU (ONNX Runtime's encoder), so a
 * discovery whose scan ran on a GPU keeps the same samples as one on a CPU.
 *
 * Cost: one read and encode of at most {@link QUANTILE_POLICY}.ROWS rows of
 * the source (whole units), O(d_sae · bands · samples) memory.
 */
import { QUANTILE_BANDS } from '../contracts/features.ts';
import { createEncoder, forEachActive } from '../sae/encode.ts';
import type { SaeConfig } from '../sae/saelens.ts';
import type { SaeWeights } from '../sae/stepper.ts';
import type { ActivationSource } from './sources.ts';

export { QUANTILE_BANDS };

/** Samples kept a band, rows read at most, rows encoded at once. */
export const QUANTILE_POLICY = { SAMPLES: 2, ROWS: 65_536, CHUNK: 512 } as const;

/** A kept sample: the feature, its band (index of {@link QUANTILE_BANDS}), the peak's dataset position and value. */
export interface QuantileSample {
  feature: number;
  band: number;
  position: number;
  value: number;
}

/**
 * The values that cut a feature's active values into the bands (one fewer
 * than the bands), from its histogram over `edges` (log-spaced; a value is
 * interpolated in log space inside its bin). Empty histograms give no cuts.
 */
export function bandCuts(counts: ArrayLike<number>, edges: readonly number[]): number[] {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return [];
  const cuts: number[] = [];
  for (const [, to] of QUANTILE_BANDS.slice(0, -1)) {
    const want = to * total;
    let seen = 0;
    let cut = edges[edges.length - 1]!;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c > 0 && seen + c >= want) {
        const f = (want - seen) / c;
        cut = Math.exp(Math.log(edges[i]!) + f * (Math.log(edges[i + 1]!) - Math.log(edges[i]!)));
        break;
      }
      seen += c;
    }
    cuts.push(cut);
  }
  return cuts;
}

/** The band of value `v` given a feature's cuts. */
function bandOf(cuts: readonly number[], v: number): number {
  let b = 0;
  while (b < cuts.length && v >= cuts[b]!) b++;
  return b;
}

/** A 32-bit hash of (position, feature): the order in which samples are preferred. */
function hash(position: number, feature: number): number {
  let h = Math.imul(position | 0, 0x9e3779b1) ^ Math.imul(Math.floor(position / 2 ** 32), 0x85ebca6b) ^ Math.imul(feature + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The units the sample reads: evenly spread over the source, about `rows` rows in all (every unit of a small source). */
export function sampledUnits(source: Pick<ActivationSource, 'units' | 'total' | 'size'>, rows: number): number[] {
  const perUnit = source.units > 0 ? source.total / source.units : 0;
  const wanted = perUnit > 0 ? Math.max(1, Math.ceil(rows / perUnit)) : source.units;
  const stride = Math.max(1, Math.floor(source.units / wanted));
  const out: number[] = [];
  for (let u = 0; u < source.units && out.length < wanted; u += stride) out.push(u);
  return out;
}

/**
 * Samples, per feature and band, up to {@link QUANTILE_POLICY}.SAMPLES
 * positions whose activation falls in the band (`cuts[f]`: the feature's
 * {@link bandCuts}), at most one per context window of `span` positions.
 */
export async function sampleQuantiles(o: {
  cfg: SaeConfig;
  weights: SaeWeights;
  source: ActivationSource;
  cuts: readonly (readonly number[])[];
  span: number;
  signal?: AbortSignal;
}): Promise<QuantileSample[]> {
  const S = o.cfg.dSae;
  const B = QUANTILE_BANDS.length;
  const N = QUANTILE_POLICY.SAMPLES;
  const key = new Uint32Array(S * B * N).fill(0xffffffff);
  const pos = new Float64Array(S * B * N).fill(-1);
  const val = new Float32Array(S * B * N);
  const size = new Uint8Array(S * B);
  const offer = (f: number, v: number, p: number) => {
    const cuts = o.cuts[f];
    if (!cuts || cuts.length === 0) return;
    const slot = f * B + bandOf(cuts, v);
    const base = slot * N;
    const k = hash(p, f);
    const n = size[slot]!;
    // one sample per context window: a nearby kept one is replaced only by a smaller key
    for (let j = 0; j < n; j++) {
      if (Math.abs(pos[base + j]! - p) < o.span) {
        if (k < key[base + j]!) [key[base + j], pos[base + j], val[base + j]] = [k, p, v];
        return;
      }
    }
    if (n < N) {
      [key[base + n], pos[base + n], val[base + n]] = [k, p, v];
      size[slot] = n + 1;
      return;
    }
    let worst = 0;
    for (let j = 1; j < N; j++) if (key[base + j]! > key[base + worst]!) worst = j;
    if (k < key[base + worst]!) [key[base + worst], pos[base + worst], val[base + worst]] = [k, p, v];
  };

  // on the CPU whatever device the scan used: the same samples either way
  const encoder = await createEncoder(o.cfg, o.weights, { device: 'cpu' });
  try {
    for (const u of sampledUnits(o.source, QUANTILE_POLICY.ROWS)) {
      o.signal?.throwIfAborted();
      const x = await o.source.read(u);
      for (let r0 = 0; r0 < x.rows; r0 += QUANTILE_POLICY.CHUNK) {
        o.signal?.throwIfAborted();
        const n = Math.min(QUANTILE_POLICY.CHUNK, x.rows - r0);
        const enc = await encoder.encode(x.data.subarray(r0 * o.source.d, (r0 + n) * o.source.d), n);
        forEachActive(enc, n, S, (row, f, v) => v > 0 && offer(f, v, Number(x.positions[r0 + row]!)));
      }
    }
  } finally {
    await encoder.release();
  }
  const out: QuantileSample[] = [];
  for (let f = 0; f < S; f++) {
    for (let b = 0; b < B; b++) {
      const base = (f * B + b) * N;
      const kept = Array.from({ length: size[f * B + b]! }, (_, j) => base + j).sort((i, j) => val[j]! - val[i]! || pos[i]! - pos[j]!);
      for (const i of kept) out.push({ feature: f, band: b, position: pos[i]!, value: val[i]! });
    }
  }
  return out;
}
