/**
 * Feature discovery: an SAE over the stored activations of its hook, in one
 * streaming pass over the shards, keeping per feature its activation count,
 * sum, max, a histogram of its non-zero values and its top-k activating
 * positions (at most one per context window); then a second pass reads back
 * the activations of every token in each top example's window.
 * Memory: O(d_sae · k · window), never O(tokens).
 */
import { readManifest, readShard, type HookManifest } from '../activations/store.ts';
import { documentAt, type TokenStore } from '../datasets/format.ts';
import { createEncoder, forEachActive } from '../sae/encode.ts';
import type { SaeConfig } from '../sae/saelens.ts';
import type { SaeWeights } from '../sae/stepper.ts';
import type { Device } from '../runtime.ts';

/** Log-spaced histogram edges of activation values: 10^-3 … 10^3, 4 bins a decade. */
export const HISTOGRAM_EDGES = Array.from({ length: 25 }, (_, i) => 10 ** (-3 + i / 4));

export interface Example {
  rank: number;
  /** activation at the peak token */
  maxValue: number;
  /** dataset offset (in tokens.bin) of the peak token */
  position: number;
  /** dataset offset of the first token of the window */
  start: number;
  tokens: number[];
  /** the feature's activation on each token of the window (0 where not stored, e.g. BOS) */
  values: number[];
}

export interface FeatureSummary {
  index: number;
  /** fraction of stored tokens on which the feature is active */
  frequency: number;
  maxActivation: number;
  /** mean over the tokens where it is active */
  meanActivation: number;
  histogram: { edges: number[]; counts: number[] };
  examples: Example[];
}

export interface DiscoverOptions {
  activations: string;
  hook: string;
  cfg: SaeConfig;
  weights: SaeWeights;
  tokens: TokenStore;
  docOffsets: ArrayLike<number>;
  topK?: number;
  /** tokens shown before and after the peak */
  left?: number;
  right?: number;
  chunkRows?: number;
  device?: Device;
  signal?: AbortSignal;
  onProgress?(rowsDone: number, rowsTotal: number, phase: 'scan' | 'examples'): void;
}

function binOf(v: number): number {
  const b = Math.floor((Math.log10(v) + 3) * 4);
  return Math.max(0, Math.min(HISTOGRAM_EDGES.length - 2, b));
}

export async function discoverFeatures(o: DiscoverOptions): Promise<{ rows: number; features: FeatureSummary[] }> {
  const manifest = await readManifest(o.activations);
  const h: HookManifest | undefined = manifest?.hooks[o.hook];
  if (!h) throw new Error(`${o.activations}: no activations for hook "${o.hook}"`);
  if (h.d !== o.cfg.dIn) throw new Error(`${o.hook}: stored rows have ${h.d} values, the SAE takes ${o.cfg.dIn}`);
  const S = o.cfg.dSae;
  const K = o.topK ?? 10;
  const left = o.left ?? 16;
  const right = o.right ?? 4;
  const span = left + right + 1;
  const chunk = o.chunkRows ?? 512;
  const count = new Float64Array(S);
  const sum = new Float64Array(S);
  const max = new Float32Array(S);
  const bins = HISTOGRAM_EDGES.length - 1;
  const hist = new Uint32Array(S * bins);
  const topVal = new Float32Array(S * K);
  const topPos = new Float64Array(S * K).fill(-1);
  const topSize = new Uint8Array(S);
  const topMin = new Float32Array(S); // smallest kept value once full

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
    if (v <= topMin[f]!) return;
    let m = 0;
    for (let j = 1; j < K; j++) if (topVal[base + j]! < topVal[base + m]!) m = j;
    topVal[base + m] = v;
    topPos[base + m] = pos;
    topMin[f] = minOf(topVal, base, K);
  };

  const encoder = await createEncoder(o.cfg, o.weights, { device: o.device });
  let rowsDone = 0;
  try {
    // pass 1: statistics and top positions
    for (let s = 0; s < h.shards.length; s++) {
      const shard = await readShard(o.activations, h, s);
      for (let r0 = 0; r0 < shard.rows; r0 += chunk) {
        o.signal?.throwIfAborted();
        const n = Math.min(chunk, shard.rows - r0);
        const enc = await encoder.encode(shard.data.subarray(r0 * h.d, (r0 + n) * h.d), n);
        forEachActive(enc, n, S, (r, f, v) => {
          count[f]!++;
          sum[f]! += v;
          if (v > max[f]!) max[f] = v;
          hist[f * bins + binOf(v)]!++;
          if (topSize[f]! < K || v > topMin[f]!) offer(f, v, Number(shard.positions[r0 + r]!));
        });
        rowsDone += n;
        o.onProgress?.(rowsDone, h.rows, 'scan');
      }
    }

    // the windows of the kept examples, clamped to their documents
    interface Slot { feature: number; start: number; length: number; peak: number; value: number; values: Float32Array; tokens: Uint32Array | null }
    const slots: Slot[] = [];
    const wanted = new Map<number, number[]>(); // position → slot indices
    for (let f = 0; f < S; f++) {
      const base = f * K;
      const order = Array.from({ length: topSize[f]! }, (_, j) => j).sort((a, b) => topVal[base + b]! - topVal[base + a]!);
      for (const j of order) {
        const peak = topPos[base + j]!;
        const { document } = documentAt(o.docOffsets, peak);
        const docStart = o.docOffsets[document]!;
        const docEnd = o.docOffsets[document + 1]!;
        const start = Math.max(docStart, peak - left);
        const end = Math.min(docEnd, peak + right + 1);
        const slot = slots.push({ feature: f, start, length: end - start, peak, value: topVal[base + j]!, values: new Float32Array(end - start), tokens: null }) - 1;
        for (let p = start; p < end; p++) {
          const list = wanted.get(p);
          if (list) list.push(slot);
          else wanted.set(p, [slot]);
        }
      }
    }
    // pass 2: the activations of every token of those windows
    let seen = 0;
    for (let s = 0; s < h.shards.length && wanted.size > 0; s++) {
      const shard = await readShard(o.activations, h, s);
      const rows: number[] = [];
      for (let r = 0; r < shard.rows; r++) if (wanted.has(Number(shard.positions[r]!))) rows.push(r);
      for (let i = 0; i < rows.length; i += chunk) {
        o.signal?.throwIfAborted();
        const part = rows.slice(i, i + chunk);
        const x = new Float32Array(part.length * h.d);
        part.forEach((r, k) => x.set(shard.data.subarray(r * h.d, (r + 1) * h.d), k * h.d));
        const enc = await encoder.encode(x, part.length);
        const byRow = part.map((r) => wanted.get(Number(shard.positions[r]!))!);
        const value = (k: number, f: number): number => {
          if (enc.kind === 'dense') return enc.acts[k * S + f]!;
          for (let j = 0; j < enc.k; j++) if (Number(enc.indices[k * enc.k + j]!) === f) return enc.values[k * enc.k + j]!;
          return 0;
        };
        part.forEach((r, k) => {
          const pos = Number(shard.positions[r]!);
          for (const si of byRow[k]!) {
            const sl = slots[si]!;
            sl.values[pos - sl.start] = value(k, sl.feature);
          }
        });
      }
      seen += shard.rows;
      o.onProgress?.(seen, h.rows, 'examples');
    }
    for (const sl of slots) sl.tokens = await o.tokens.readTokens(sl.start, sl.length);

    const features: FeatureSummary[] = [];
    let si = 0;
    for (let f = 0; f < S; f++) {
      const examples: Example[] = [];
      for (let j = 0; j < topSize[f]!; j++, si++) {
        const sl = slots[si]!;
        examples.push({ rank: j, maxValue: sl.value, position: sl.peak, start: sl.start, tokens: Array.from(sl.tokens!), values: Array.from(sl.values) });
      }
      features.push({
        index: f,
        frequency: h.rows ? count[f]! / h.rows : 0,
        maxActivation: max[f]!,
        meanActivation: count[f]! ? sum[f]! / count[f]! : 0,
        histogram: { edges: HISTOGRAM_EDGES, counts: Array.from(hist.subarray(f * bins, (f + 1) * bins)) },
        examples,
      });
    }
    return { rows: h.rows, features };
  } finally {
    await encoder.release();
  }
}

function minOf(a: Float32Array, base: number, k: number): number {
  let m = Infinity;
  for (let j = 0; j < k; j++) if (a[base + j]! < m) m = a[base + j]!;
  return m;
}
