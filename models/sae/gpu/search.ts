/**
 * Searches over an SAE's decoder rows W_dec [d_sae, d_in]: the features most
 * similar to one (cosine of decoder rows), the features whose direction most
 * raises or lowers a token's logit (the logit lens's convention,
 * models/features/lens.ts), and the features of a text by their largest
 * activation. One implementation runs on any WebGPU device — the browser's
 * `navigator.gpu` or Dawn in Node (device.ts) — with the kernels of
 * search-kernels.ts; {@link createCpuDecoderSearch} computes the same on the
 * CPU, the fallback and the reference.
 *
 * The decoder is uploaded once, in chunks of at most `chunkBytes` (and the
 * device's binding limit), from a stream: the host holds one chunk at a time.
 * In half precision (`f16`) the rows are stored as halves (half the memory
 * and bandwidth; widened in the kernel by core WGSL, so any adapter runs it)
 * and every sum runs in float32; the CPU search given the same halves
 * ({@link halfToFloat}) gives the same values within float32 rounding. The
 * browser picks halves where the adapter has `shader-f16` (web/engine/gpu.ts).
 *
 * Browser-safe: WebGPU's own API only (no Node, no `webgpu` package).
 */
import { flat, prepare } from './pipeline.ts';
import { FEATURE_LANES, PARAM_WORDS, rowKernel, textMaxKernel, type RowType } from './search-kernels.ts';

/** WebGPU's flag values (fixed by the specification; Node's `webgpu` package does not put them on globalThis). */
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_READ = 0x1;

/** Default largest chunk of the decoder in one GPU buffer, bytes. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;

/** A feature and its score. */
export interface Scored {
  index: number;
  value: number;
}

/** What the searches need of a decoder, on a GPU or the CPU. */
export interface DecoderSearch {
  readonly engine: 'webgpu' | 'cpu';
  readonly dSae: number;
  readonly dIn: number;
  /** how the rows are stored */
  readonly type: RowType;
  /** W_dec[f] as float32 [d_in] (a half row widened exactly) */
  row(f: number): Promise<Float32Array>;
  /** ‖W_dec[f]‖ for every feature [d_sae] (computed once) */
  norms(): Promise<Float32Array>;
  /** W_dec[f]·v for every feature [d_sae] */
  dots(v: Float32Array): Promise<Float32Array>;
  /** per feature, its largest activation in `acts` [tokens, d_sae] (0 when it never fires) and the first token reaching it */
  textMax(acts: Float32Array, tokens: number): Promise<{ max: Float32Array; at: Uint32Array }>;
  release(): void;
}

/** IEEE half bits → float32 values (exact). */
export function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    out[i] = exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** The `k` largest (or smallest) scores, best first, ties to the lower index; `skip` is left out. */
export function topScores(scores: Float32Array, k: number, opts: { largest?: boolean; skip?: number } = {}): Scored[] {
  const sign = opts.largest === false ? -1 : 1;
  const n = Math.min(k, scores.length);
  const idx: number[] = [];
  const better = (a: number, b: number) => sign * scores[a]! > sign * scores[b]!;
  for (let i = 0; i < scores.length; i++) {
    if (i === opts.skip || Number.isNaN(scores[i])) continue;
    if (idx.length === n && !better(i, idx[n - 1]!)) continue;
    let j = idx.length === n ? n - 1 : idx.length;
    while (j > 0 && better(i, idx[j - 1]!)) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
  }
  return idx.map((index) => ({ index, value: scores[index]! }));
}

/** The decoder searches on the CPU over float32 rows [d_sae, d_in] (pass {@link halfToFloat} of the halves to match an f16 GPU search). */
export function createCpuDecoderSearch(rows: Float32Array, dSae: number, dIn: number, type: RowType = 'f32'): DecoderSearch {
  if (rows.length !== dSae * dIn) throw new Error(`${rows.length} values are not ${dSae} rows of ${dIn}`);
  let norms: Float32Array | null = null;
  return {
    engine: 'cpu',
    dSae,
    dIn,
    type,
    row: async (f) => rows.slice(f * dIn, (f + 1) * dIn),
    async norms() {
      if (!norms) {
        norms = new Float32Array(dSae);
        for (let f = 0; f < dSae; f++) {
          let s = 0;
          for (let i = f * dIn, e = i + dIn; i < e; i++) s += rows[i]! * rows[i]!;
          norms[f] = Math.sqrt(s);
        }
      }
      return norms;
    },
    async dots(v) {
      const out = new Float32Array(dSae);
      for (let f = 0; f < dSae; f++) {
        let s = 0;
        const o = f * dIn;
        for (let i = 0; i < dIn; i++) s += rows[o + i]! * v[i]!;
        out[f] = s;
      }
      return out;
    },
    async textMax(acts, tokens) {
      const max = new Float32Array(dSae);
      const at = new Uint32Array(dSae);
      for (let t = 0; t < tokens; t++) {
        for (let f = 0; f < dSae; f++) {
          const a = acts[t * dSae + f]!;
          if (a > max[f]!) {
            max[f] = a;
            at[f] = t;
          }
        }
      }
      return { max, at };
    },
    release() {},
  };
}

/** Reads exactly `n` bytes from a stream's reader into `into` (fewer at its end); returns how many. */
async function fill(reader: ReadableStreamDefaultReader<Uint8Array>, into: Uint8Array, pending: { rest: Uint8Array | null }): Promise<number> {
  let at = 0;
  while (at < into.length) {
    let chunk = pending.rest;
    pending.rest = null;
    if (!chunk) {
      const r = await reader.read();
      if (r.done) break;
      chunk = r.value;
    }
    const take = Math.min(chunk.length, into.length - at);
    into.set(chunk.subarray(0, take), at);
    at += take;
    if (take < chunk.length) pending.rest = chunk.subarray(take);
  }
  return at;
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

export interface GpuDecoderOptions {
  dSae: number;
  dIn: number;
  type: RowType;
  /** largest chunk in one buffer, bytes (default {@link DEFAULT_CHUNK_BYTES}; never above the device's binding limit) */
  chunkBytes?: number;
  /** bytes uploaded so far, after each chunk */
  onProgress?(bytes: number): void;
}

/**
 * Uploads the decoder rows that `source` streams (d_sae × d_in values,
 * little-endian float32 or half as `type` says) to `device` and returns its
 * searches. Throws when the device cannot hold them (the message says so).
 */
export async function createGpuDecoderSearch(device: GPUDevice, o: GpuDecoderOptions, source: ReadableStream<Uint8Array>): Promise<DecoderSearch> {
  const { dSae, dIn, type } = o;
  const elem = type === 'f16' ? 2 : 4;
  const rowBytes = dIn * elem;
  const limit = Math.min(o.chunkBytes ?? DEFAULT_CHUNK_BYTES, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const rowsPer = Math.max(1, Math.floor(limit / rowBytes));
  const [dot, norm] = await Promise.all([prepare(device, rowKernel({ dIn, type, op: 'dot' })), prepare(device, rowKernel({ dIn, type, op: 'norm' }))]);

  const buffers: GPUBuffer[] = [];
  const make = (label: string, size: number, usage: number) => {
    const b = device.createBuffer({ label, size: Math.max(4, align4(size)), usage });
    buffers.push(b);
    return b;
  };
  const chunks: { first: number; rows: number; w: GPUBuffer; params: GPUBuffer }[] = [];
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const reader = source.getReader();
  try {
    const staging = new Uint8Array(align4(Math.min(rowsPer, dSae) * rowBytes));
    const pending = { rest: null as Uint8Array | null };
    let uploaded = 0;
    for (let first = 0; first < dSae; first += rowsPer) {
      const rows = Math.min(rowsPer, dSae - first);
      const bytes = rows * rowBytes;
      const got = await fill(reader, staging.subarray(0, bytes), pending);
      if (got < bytes) throw new Error(`the decoder stream ended after ${uploaded + got} bytes; ${dSae} × ${dIn} ${type} rows take ${dSae * rowBytes}`);
      const w = make(`W_dec[${first}:${first + rows}]`, bytes, USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC);
      device.queue.writeBuffer(w, 0, staging, 0, align4(bytes));
      const params = make('params', PARAM_WORDS * 4, USAGE.UNIFORM | USAGE.COPY_DST);
      device.queue.writeBuffer(params, 0, Uint32Array.of(first, rows, 0, 0));
      chunks.push({ first, rows, w, params });
      uploaded += bytes;
      o.onProgress?.(uploaded);
    }
  } catch (err) {
    for (const b of buffers) b.destroy();
    throw err;
  } finally {
    reader.releaseLock();
    const invalid = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (oom || invalid) {
      for (const b of buffers) b.destroy();
      throw new Error(oom ? `the GPU cannot hold the decoder (${dSae} × ${dIn} ${type}, ${(dSae * rowBytes) / 2 ** 20} MiB): ${oom.message}` : `uploading the decoder failed: ${invalid!.message}`);
    }
  }
  const v = make('v', dIn * 4, USAGE.STORAGE | USAGE.COPY_DST);
  const out = make('out', dSae * 4, USAGE.STORAGE | USAGE.COPY_SRC);
  const readback = make('readback', dSae * 4, USAGE.MAP_READ | USAGE.COPY_DST);
  const dotGroups = chunks.map((c) =>
    device.createBindGroup({ layout: dot.layout, entries: [c.w, v, out, c.params].map((buffer, binding) => ({ binding, resource: { buffer } })) }),
  );
  const normGroups = chunks.map((c) => device.createBindGroup({ layout: norm.layout, entries: [c.w, out, c.params].map((buffer, binding) => ({ binding, resource: { buffer } })) }));

  // one search at a time: they share `out` and the readback buffer
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const r = queue.then(f, f);
    queue = r.catch(() => undefined);
    return r;
  };
  const read = async (src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0): Promise<ArrayBuffer> => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, srcOffset, dst, 0, bytes);
    device.queue.submit([enc.finish()]);
    await dst.mapAsync(MAP_READ, 0, bytes);
    const copy = dst.getMappedRange(0, bytes).slice(0);
    dst.unmap();
    return copy;
  };
  const runRows = (pipeline: GPUComputePipeline, groups: GPUBindGroup[]): Promise<Float32Array> =>
    (async () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      chunks.forEach((c, i) => {
        pass.setBindGroup(0, groups[i]!);
        pass.dispatchWorkgroups(...flat(c.rows));
      });
      pass.end();
      device.queue.submit([enc.finish()]);
      return new Float32Array(await read(out, readback, dSae * 4));
    })();

  let norms: Promise<Float32Array> | null = null;
  const rowRead = make('row', align4(rowBytes) + 4, USAGE.MAP_READ | USAGE.COPY_DST);
  return {
    engine: 'webgpu',
    dSae,
    dIn,
    type,
    row: (f) =>
      serial(async () => {
        const c = chunks[Math.floor(f / rowsPer)];
        if (!c || f < 0 || f >= dSae) throw new Error(`no feature ${f} among ${dSae}`);
        // copies move whole words: take the aligned span around the row
        const start = (f - c.first) * rowBytes;
        const from = Math.floor(start / 4) * 4;
        const bytes = align4(start + rowBytes) - from;
        const span = await read(c.w, rowRead, bytes, from);
        const raw = span.slice(start - from, start - from + rowBytes);
        return type === 'f16' ? halfToFloat(new Uint16Array(raw)) : new Float32Array(raw);
      }),
    norms: () => (norms ??= serial(() => runRows(norm.pipeline, normGroups))),
    dots: (vec) =>
      serial(async () => {
        if (vec.length !== dIn) throw new Error(`the vector has ${vec.length} values, the rows ${dIn}`);
        device.queue.writeBuffer(v, 0, vec.buffer, vec.byteOffset, vec.byteLength);
        return runRows(dot.pipeline, dotGroups);
      }),
    textMax: (acts, tokens) =>
      serial(async () => {
        const k = await prepare(device, textMaxKernel({ dSae }));
        const tmp: GPUBuffer[] = [];
        const temp = (label: string, size: number, usage: number) => {
          const b = device.createBuffer({ label, size: Math.max(4, align4(size)), usage });
          tmp.push(b);
          return b;
        };
        try {
          const a = temp('acts', acts.byteLength, USAGE.STORAGE | USAGE.COPY_DST);
          device.queue.writeBuffer(a, 0, acts.buffer, acts.byteOffset, tokens * dSae * 4);
          const best = temp('best', dSae * 4, USAGE.STORAGE | USAGE.COPY_SRC);
          const at = temp('best_at', dSae * 4, USAGE.STORAGE | USAGE.COPY_SRC);
          const params = temp('params', PARAM_WORDS * 4, USAGE.UNIFORM | USAGE.COPY_DST);
          device.queue.writeBuffer(params, 0, Uint32Array.of(0, 0, tokens, 0));
          const group = device.createBindGroup({ layout: k.layout, entries: [a, best, at, params].map((buffer, binding) => ({ binding, resource: { buffer } })) });
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          pass.setPipeline(k.pipeline);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(...flat(Math.ceil(dSae / FEATURE_LANES)));
          pass.end();
          device.queue.submit([enc.finish()]);
          const max = new Float32Array(await read(best, readback, dSae * 4));
          const where = new Uint32Array(await read(at, readback, dSae * 4));
          return { max, at: where };
        } finally {
          for (const b of tmp) b.destroy();
        }
      }),
    release() {
      for (const b of buffers) b.destroy();
    },
  };
}

/**
 * The `k` features whose decoder rows are most similar to feature `f`'s
 * (cosine), `f` itself left out. A row of norm 0 scores 0.
 */
export async function similarFeatures(s: DecoderSearch, f: number, k: number): Promise<Scored[]> {
  const [q, norms] = await Promise.all([s.row(f), s.norms()]);
  const dots = await s.dots(q);
  const nq = norms[f]!;
  const cos = new Float32Array(s.dSae);
  for (let g = 0; g < s.dSae; g++) {
    const d = norms[g]! * nq;
    cos[g] = d > 0 ? dots[g]! / d : 0;
  }
  return topScores(cos, k, { skip: f });
}

/** The final norm the logit lens folds into a direction (the inspector's manifest `lens`). */
export interface LensNormInfo {
  norm: 'layer' | 'rms' | null;
  gain: Float32Array | null;
}

/**
 * Every feature's effect on one token's logit: (W_dec[f] − mean, for a
 * LayerNorm family) ⊙ γ · W_U[:, t] with `weight` (the lens's default), or
 * W_dec[f] · W_U[:, t] with `none`. Computed as W_dec[f]·(γ ⊙ u) −
 * mean(W_dec[f]) · Σ(γ ⊙ u), so that the rows are read once (twice for the
 * mean, once per decoder: the row sums are kept).
 */
export async function tokenEffects(s: DecoderSearch, column: Float32Array, lens: LensNormInfo, convention: 'weight' | 'none', sums?: { rowSums: Float32Array | null }): Promise<Float32Array> {
  const d = s.dIn;
  if (column.length !== d) throw new Error(`the column has ${column.length} values, the rows ${d}`);
  const scaled = convention === 'weight' && lens.gain !== null;
  const v = scaled ? column.map((u, i) => u * lens.gain![i]!) : column;
  const scores = await s.dots(v);
  if (!scaled || lens.norm !== 'layer') return scores;
  let total = 0;
  for (let i = 0; i < d; i++) total += v[i]!;
  const rowSums = sums?.rowSums ?? (await s.dots(new Float32Array(d).fill(1)));
  if (sums) sums.rowSums = rowSums;
  for (let f = 0; f < s.dSae; f++) scores[f] = scores[f]! - (rowSums[f]! / d) * total;
  return scores;
}

/** The features that most raise and most lower a token's logit ({@link tokenEffects}), `k` each. */
export async function featuresByTokenEffect(s: DecoderSearch, column: Float32Array, lens: LensNormInfo, convention: 'weight' | 'none', k: number, sums?: { rowSums: Float32Array | null }): Promise<{ raises: Scored[]; lowers: Scored[] }> {
  const scores = await tokenEffects(s, column, lens, convention, sums);
  return { raises: topScores(scores, k), lowers: topScores(scores, k, { largest: false }) };
}

/** The `k` features with the largest activation over a text's tokens (`acts` [tokens, d_sae]), with the token where each peaks. */
export async function featuresInText(s: DecoderSearch, acts: Float32Array, tokens: number, k: number): Promise<(Scored & { token: number })[]> {
  const { max, at } = await s.textMax(acts, tokens);
  return topScores(max, k)
    .filter((x) => x.value > 0)
    .map((x) => ({ ...x, token: at[x.index]! }));
}
