/**
 * An SAE's encoder on the WebGPU device with what discovery and the
 * analyses fold its activations into (feature-kernels.ts): rows go up, are
 * encoded into a [rows, d_sae] buffer that never leaves the device, and are
 * folded there into each feature's statistics and kept peaks (the scan) or
 * into correlation sums; only those, and single activations asked for by
 * (row, feature), come back. Results equal the CPU path's
 * (models/features/scan.ts, analysis.ts) up to f32 rounding of the matmul.
 */
import type { SaeConfig } from '../saelens.ts';
import type { SaeWeights } from '../stepper.ts';
import type { Placement } from '../../runtime.ts';
import { gpuFlags, requestGpu } from './device.ts';
import { CORR, FEATURE_THREADS, STAT_F, STAT_U, correlateKernel, encodeRowsKernel, pickKernel, scanKernel, type ScanConfig } from './feature-kernels.ts';
import { STEP, STEP_WORDS, TILE, topkRowsKernel, type Kernel, type KernelConfig } from './kernels.ts';
import { flat, prepare, readBuffers, type Prepared } from './pipeline.ts';

/** A feature's statistics and kept peaks, as discovery's checkpoint holds them (discover.ts). */
export interface ScanState {
  count: Float64Array;
  sum: Float64Array;
  max: Float32Array;
  /** [d_sae, bins] */
  hist: Uint32Array;
  /** [d_sae, topK]; positions -1 where none is kept */
  topVal: Float32Array;
  topPos: Float64Array;
  topSize: Uint8Array;
  topMin: Float32Array;
}

export interface GpuFeatureEncoder {
  readonly placement: Placement;
  /** rows encoded at most at once */
  readonly capacity: number;
  /** Encodes rows x [rows, d_in] on the device; the activations stay there until the next call. */
  encode(x: Float32Array, rows: number): void;
  /** Folds the encoded rows, at these dataset positions, into the scan's state (needs `scan` at creation). */
  scan(positions: BigInt64Array): void;
  /** The scan's state, copied to the host. */
  scanState(): Promise<ScanState>;
  /** The encoded activation at each (row, feature) pair of `queries` ([Q, 2]). */
  pick(queries: Uint32Array): Promise<Float32Array>;
  /** Adds the encoded rows to the correlation sums with feature `target` (the same target every call). */
  correlate(target: number): void;
  /** Σ a, Σ a², Σ a_target·a per feature, over the rows correlated so far. */
  correlationSums(): Promise<{ sum: Float64Array; sumSq: Float64Array; cross: Float64Array }>;
  release(): Promise<void>;
}

export interface GpuFeatureOptions {
  /** rows a call of encode may give (default 512) */
  capacity?: number;
  /** keep statistics and peaks (discovery), starting from `resume` when given */
  scan?: ScanConfig & { resume?: ScanState | null };
  /** the adapter to use by name; default Dawn's choice */
  adapter?: string;
}

const f4 = 4;

/**
 * The SAE's encoder and accumulators on the process's WebGPU device; throws
 * when there is no adapter or the buffers do not fit.
 */
export async function createGpuFeatureEncoder(cfg: SaeConfig, w: SaeWeights, o: GpuFeatureOptions = {}): Promise<GpuFeatureEncoder> {
  const { dIn, dSae } = cfg;
  // BatchTopK is JumpReLU at inference (a threshold a feature), as SAELens saves it
  const arch = cfg.architecture === 'relu' || cfg.architecture === 'topk' ? cfg.architecture : 'jumprelu';
  if (arch === 'jumprelu' && !w.threshold) throw new Error(`a ${cfg.architecture} SAE needs its thresholds`);
  if (arch === 'topk' && (!cfg.k || cfg.k < 1 || cfg.k > dSae)) throw new Error(`TopK SAE: k must be in 1..${dSae}`);
  const capacity = Math.max(1, o.capacity ?? 512);
  const gpu = await requestGpu(o.adapter ? { adapter: o.adapter } : {});
  const device = gpu.device;
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (capacity * dSae * f4 > limit || capacity * dSae >= 2 ** 32 || dIn * dSae >= 2 ** 32) {
    throw new Error(`SAE ${dIn}×${dSae}: ${capacity} rows of activations need ${capacity * dSae * f4} bytes, more than this GPU binds (${limit}): out of memory, use fewer rows at once`);
  }
  // the training step's constants (bandwidth, betas) are unused here; any finite values do
  const kc: KernelConfig = { architecture: arch, dIn, dSae, k: cfg.k ?? 0, bandwidth: 1, beta1: 0.9, beta2: 0.999 };
  const scanCfg = o.scan;
  const bins = scanCfg ? scanCfg.edges.length - 1 : 0;
  const topK = scanCfg?.topK ?? 0;
  if (scanCfg && (topK < 1 || topK > 255)) throw new Error(`scan: topK must be in 1..255 (got ${topK})`);
  const kernels = {
    encode: encodeRowsKernel(kc),
    pick: pickKernel(kc),
    correlate: correlateKernel(kc),
    ...(arch === 'topk' ? { topk: topkRowsKernel(kc) } : {}),
    ...(scanCfg ? { scan: scanKernel(kc, scanCfg) } : {}),
  } satisfies Record<string, Kernel>;
  type Name = keyof typeof kernels;
  const prepared = {} as Record<Name, Prepared>;
  await Promise.all(Object.entries(kernels).map(async ([name, k]) => (prepared[name as Name] = await prepare(device, k))));

  const U = gpuFlags.GPUBufferUsage;
  const STORAGE = U.STORAGE | U.COPY_SRC | U.COPY_DST;
  const bufs = new Map<string, GPUBuffer>();
  const make = (name: string, bytes: number, usage = STORAGE) => bufs.set(name, device.createBuffer({ label: name, size: Math.max(4, Math.ceil(bytes / 4) * 4), usage })).get(name)!;
  const buf = (name: string) => {
    const b = bufs.get(name);
    if (!b) throw new Error(`GPU feature encoder: no buffer ${name}`);
    return b;
  };
  const destroyAll = () => {
    for (const b of bufs.values()) b.destroy();
    bufs.clear();
  };
  const upload = (name: string, data: ArrayBufferView) => device.queue.writeBuffer(buf(name), 0, data.buffer, data.byteOffset, data.byteLength);
  const popScopes = async (what: string) => {
    const [validation, memory] = [await device.popErrorScope(), await device.popErrorScope()];
    if (memory) throw new Error(`${what}: out of memory on the GPU (${memory.message})`);
    if (validation) throw new Error(`${what}: ${validation.message}`);
  };

  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  try {
    make('x', capacity * dIn * f4);
    make('W_enc', dIn * dSae * f4);
    make('b_enc', dSae * f4);
    make('b_dec', dIn * f4);
    make('f', capacity * dSae * f4);
    if (arch === 'topk') make('pre', capacity * dSae * f4);
    if (arch === 'jumprelu') make('threshold', dSae * f4);
    make('step', STEP_WORDS * 4, U.UNIFORM | U.COPY_DST);
    make('target_feature', 4);
    upload('W_enc', w.W_enc);
    upload('b_enc', w.b_enc);
    upload('b_dec', w.b_dec);
    if (arch === 'jumprelu') upload('threshold', w.threshold!);
    if (scanCfg) {
      make('pos', capacity * 4);
      make('stat_u', dSae * (2 + bins) * 4);
      make('stat_f', dSae * STAT_F.size * f4);
      make('top_val', dSae * topK * f4);
      make('top_pos', dSae * topK * 4);
      setScanState(scanCfg.resume ?? null);
    }
    await popScopes('GPU feature encoder');
  } catch (err) {
    destroyAll();
    throw err;
  }

  /** The scan's buffers from a saved state, or empty. */
  function setScanState(r: ScanState | null): void {
    const su = new Uint32Array(dSae * (2 + bins));
    const sf = new Float32Array(dSae * STAT_F.size);
    const tv = new Float32Array(dSae * topK);
    const tp = new Uint32Array(dSae * topK).fill(0xffffffff);
    if (r) {
      for (let f = 0; f < dSae; f++) {
        su[f * (2 + bins) + STAT_U.count] = r.count[f]!;
        su[f * (2 + bins) + STAT_U.kept] = r.topSize[f]!;
        su.set(r.hist.subarray(f * bins, (f + 1) * bins), f * (2 + bins) + STAT_U.hist);
        const hi = Math.fround(r.sum[f]!);
        sf[f * STAT_F.size + STAT_F.sum] = hi;
        sf[f * STAT_F.size + STAT_F.comp] = r.sum[f]! - hi;
        sf[f * STAT_F.size + STAT_F.max] = r.max[f]!;
        sf[f * STAT_F.size + STAT_F.min] = r.topMin[f]!;
      }
      tv.set(r.topVal);
      for (let i = 0; i < tp.length; i++) if (r.topPos[i]! >= 0) tp[i] = r.topPos[i]!;
    }
    upload('stat_u', su);
    upload('stat_f', sf);
    upload('top_val', tv);
    upload('top_pos', tp);
  }

  const group = (name: Name) => {
    const p = prepared[name];
    return device.createBindGroup({ label: p.kernel.name, layout: p.layout, entries: p.kernel.bindings.map((b, i) => ({ binding: i, resource: { buffer: buf(b.name) } })) });
  };
  const groups = Object.fromEntries(
    (Object.keys(prepared) as Name[]).filter((n) => n !== 'pick' && n !== 'correlate').map((n) => [n, group(n)]),
  ) as Partial<Record<Name, GPUBindGroup>>;
  const stepWords = new Uint32Array(STEP_WORDS);
  let rows = 0;
  let released = false;
  let correlating: number | null = null;

  const dispatch = (name: Name, [gx, gy]: [number, number], batch: number, g = groups[name]!) => {
    stepWords[STEP.batch] = batch;
    device.queue.writeBuffer(buf('step'), 0, stepWords);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(prepared[name].pipeline);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
    device.queue.submit([enc.finish()]);
  };
  const download = (list: string[]) => readBuffers(device, list.map(buf));
  const live = () => {
    if (released) throw new Error('GPU feature encoder: released');
  };
  const perFeature = flat(Math.ceil(dSae / FEATURE_THREADS));

  return {
    placement: { requested: 'webgpu', provider: 'webgpu', engine: 'wgsl', adapter: gpu.adapter.description || `${gpu.adapter.vendor} ${gpu.adapter.device}`.trim(), fallbackAdapter: gpu.adapter.isFallbackAdapter, fallbackReason: null },
    capacity,
    encode(x, n) {
      live();
      if (n < 1 || n > capacity) throw new Error(`encode: ${n} rows, this encoder takes 1..${capacity} at once`);
      if (x.length !== n * dIn) throw new Error(`encode: ${x.length} values are not ${n} rows of ${dIn}`);
      upload('x', x);
      dispatch('encode', [Math.ceil(dSae / TILE), Math.ceil(n / TILE)], n);
      if (arch === 'topk') dispatch('topk', flat(n), n);
      rows = n;
    },
    scan(positions) {
      live();
      if (!scanCfg) throw new Error('scan: this encoder was made without a scan');
      if (positions.length < rows) throw new Error(`scan: ${positions.length} positions for ${rows} rows`);
      const p = new Uint32Array(rows);
      for (let i = 0; i < rows; i++) {
        const v = Number(positions[i]!);
        if (!(v >= 0 && v < 0xffffffff)) throw new Error(`scan: dataset position ${v} does not fit the GPU scan's 32 bits; discover on the CPU (LOUPE_DEVICE=cpu)`);
        p[i] = v;
      }
      upload('pos', p);
      dispatch('scan', perFeature, rows);
    },
    async scanState() {
      live();
      if (!scanCfg) throw new Error('scanState: this encoder was made without a scan');
      const [su, sf, tv, tp] = await download(['stat_u', 'stat_f', 'top_val', 'top_pos']);
      const u = new Uint32Array(su!);
      const fl = new Float32Array(sf!);
      const pos = new Uint32Array(tp!);
      const s: ScanState = {
        count: new Float64Array(dSae),
        sum: new Float64Array(dSae),
        max: new Float32Array(dSae),
        hist: new Uint32Array(dSae * bins),
        topVal: new Float32Array(tv!, 0, dSae * topK),
        topPos: new Float64Array(dSae * topK).fill(-1),
        topSize: new Uint8Array(dSae),
        topMin: new Float32Array(dSae),
      };
      for (let f = 0; f < dSae; f++) {
        const o = f * (2 + bins);
        s.count[f] = u[o + STAT_U.count]!;
        const kept = u[o + STAT_U.kept]!;
        s.topSize[f] = kept;
        s.hist.set(u.subarray(o + STAT_U.hist, o + STAT_U.hist + bins), f * bins);
        s.sum[f] = fl[f * STAT_F.size + STAT_F.sum]! + fl[f * STAT_F.size + STAT_F.comp]!;
        s.max[f] = fl[f * STAT_F.size + STAT_F.max]!;
        s.topMin[f] = fl[f * STAT_F.size + STAT_F.min]!;
        for (let j = 0; j < kept; j++) s.topPos[f * topK + j] = pos[f * topK + j]!;
      }
      return s;
    },
    async pick(queries) {
      live();
      const q = queries.length / 2;
      for (let i = 0; i < q; i++) {
        if (queries[2 * i]! >= rows || queries[2 * i + 1]! >= dSae) throw new Error(`pick: query ${i} (row ${queries[2 * i]}, feature ${queries[2 * i + 1]}) is outside ${rows} rows × ${dSae} features`);
      }
      if (q === 0) return new Float32Array(0);
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      const qb = device.createBuffer({ label: 'queries', size: queries.byteLength, usage: STORAGE });
      const out = device.createBuffer({ label: 'out', size: q * f4, usage: STORAGE });
      try {
        device.queue.writeBuffer(qb, 0, queries.buffer, queries.byteOffset, queries.byteLength);
        const p = prepared.pick;
        const g = device.createBindGroup({ layout: p.layout, entries: [buf('f'), qb, out, buf('step')].map((b, i) => ({ binding: i, resource: { buffer: b } })) });
        dispatch('pick', flat(Math.ceil(q / FEATURE_THREADS)), q, g);
        await popScopes('pick');
        const values = new Float32Array((await readBuffers(device, [out]))[0]!);
        return values;
      } finally {
        qb.destroy();
        out.destroy();
      }
    },
    correlate(target) {
      live();
      if (!(target >= 0 && target < dSae)) throw new Error(`correlate: feature ${target} is outside 0..${dSae - 1}`);
      if (correlating === null) {
        make('corr', dSae * CORR.size * f4);
        upload('target_feature', Uint32Array.of(target));
        groups.correlate = group('correlate');
        correlating = target;
      } else if (correlating !== target) throw new Error(`correlate: the sums are with feature ${correlating}, not ${target}`);
      dispatch('correlate', perFeature, rows);
    },
    async correlationSums() {
      live();
      const sum = new Float64Array(dSae);
      const sumSq = new Float64Array(dSae);
      const cross = new Float64Array(dSae);
      if (correlating === null) return { sum, sumSq, cross };
      const c = new Float32Array((await download(['corr']))[0]!);
      for (let f = 0; f < dSae; f++) {
        const o = f * CORR.size;
        sum[f] = c[o + CORR.sum]! + c[o + CORR.sum + 1]!;
        sumSq[f] = c[o + CORR.sumSq]! + c[o + CORR.sumSq + 1]!;
        cross[f] = c[o + CORR.cross]! + c[o + CORR.cross + 1]!;
      }
      return { sum, sumSq, cross };
    },
    async release() {
      if (released) return;
      released = true;
      destroyAll();
    },
  };
}
