/**
 * SAE training steps as WGSL compute kernels on a WebGPU device (kernels.ts):
 * the same step as graph.ts's ONNX train graph, with the parameters, Adam's
 * moments and the batch kept in GPU buffers from one step to the next. Per
 * step only the batch goes up and the metrics (8 scalars and `fired`) come
 * down; the parameters cross to the host only when asked for
 * (`weights()`, `state()`), which is why those two are asynchronous here.
 */
import { adamScalars, paramShapes, saeParams, toAdamU, type SaeParam } from '../graph.ts';
import { checkStepperState, type AdamResume, type SaeStepper, type SaeWeights, type StepMetrics, type StepperOptions } from '../stepper.ts';
import type { Placement } from '../../runtime.ts';
import { gpuFlags, requestGpu } from './device.ts';
import { flat, prepare, readBuffers, type Prepared } from './pipeline.ts';
import {
  COLUMNS,
  HIST_PER_THREAD,
  HIST_WORKGROUPS,
  METRICS,
  SELECT_WORDS,
  STEP,
  STEP_WORDS,
  TILE,
  WORKGROUP,
  adamKernel,
  colStatsInKernel,
  colStatsSaeKernel,
  decodeKernel,
  encodeKernel,
  gradBDecKernel,
  gradFKernel,
  gradWDecKernel,
  gradWEncKernel,
  metricsKernel,
  rowNormsKernel,
  selectApplyKernel,
  selectHistogramKernel,
  selectPickKernel,
  topkRowsKernel,
  type Kernel,
  type KernelConfig,
} from './kernels.ts';

/** createStepper's options (stepper.ts), and which adapter to run on. */
export interface GpuStepperOptions extends StepperOptions {
  /** the adapter to use by name (Dawn's `adapter=` option); default: Dawn's choice. `device` and `threads` do not apply. */
  adapter?: string;
}

/** {@link SaeStepper} with the parameters on the GPU (`weights()` and `state()` read them back). */
export interface GpuSaeStepper extends SaeStepper {
  /** provider 'webgpu', engine 'wgsl', and the adapter the kernels run on */
  readonly placement: Placement;
}

const ceil = (a: number, b: number) => Math.ceil(a / b);

/** The checks of createStepper (stepper.ts) and buildSaeStep (graph.ts), with their messages. */
function validate(o: StepperOptions, init: SaeWeights, resume?: AdamResume): void {
  checkStepperState(o, init, resume);
  if (o.architecture === 'topk' || o.architecture === 'batchtopk') {
    if (!o.k || o.k < 1 || o.k > o.dSae) throw new Error(`${o.architecture === 'topk' ? 'TopK' : 'BatchTopK'} SAE: k must be in 1..${o.dSae}`);
  }
  // the kernels index with u32
  if (o.dIn * o.dSae >= 2 ** 32) throw new Error(`SAE ${o.dIn}×${o.dSae}: more than 2³² parameters a matrix`);
}

/**
 * Creates a stepper whose state lives on the process's WebGPU device
 * ({@link requestGpu}); throws, saying so, when there is no adapter. Same
 * options, checks and resume as createStepper (stepper.ts).
 * @example
 * const s = await createGpuStepper({ architecture: 'topk', dIn: 768, dSae: 24576, k: 32 }, init);
 * const m = await s.step(x, 4096, { lr: 4e-4 }); // x [4096, 768]
 * const ckpt = await s.state();
 * await s.release();
 */
export async function createGpuStepper(o: GpuStepperOptions, init: SaeWeights, resume?: AdamResume): Promise<GpuSaeStepper> {
  validate(o, init, resume);
  const { architecture: arch, dIn, dSae } = o;
  const shapes = paramShapes(dIn, dSae);
  const names = saeParams(arch);
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const k = o.k ?? 0;
  const size = (n: SaeParam) => shapes[n].reduce((a, b) => a * b, 1);
  const cfg: KernelConfig = { architecture: arch, dIn, dSae, k, bandwidth: o.bandwidth ?? 0.001, beta1: b1, beta2: b2 };

  const gpu = await requestGpu(o.adapter ? { adapter: o.adapter } : {});
  const device = gpu.device;
  const U = gpuFlags.GPUBufferUsage;
  const STORAGE = U.STORAGE | U.COPY_SRC | U.COPY_DST;

  // buffers by the names the kernels bind them by (kernels.ts)
  const bufs = new Map<string, GPUBuffer>();
  const make = (name: string, bytes: number, usage = STORAGE) => {
    bufs.get(name)?.destroy();
    bufs.set(name, device.createBuffer({ label: name, size: Math.max(bytes, 4), usage }));
  };
  const buf = (name: string) => {
    const b = bufs.get(name);
    if (!b) throw new Error(`GPU stepper: no buffer ${name}`);
    return b;
  };
  const destroyAll = () => {
    for (const b of bufs.values()) b.destroy();
    bufs.clear();
  };
  /** Raises the errors of the scopes pushed for `what` (out of memory first, so that isOutOfMemory recognises it). */
  const popScopes = async (what: string) => {
    const [validation, memory] = [await device.popErrorScope(), await device.popErrorScope()];
    if (memory) throw new Error(`${what}: out of memory on the GPU (${memory.message})`);
    if (validation) throw new Error(`${what}: ${validation.message}`);
  };

  const kernels = {
    encode: encodeKernel(cfg),
    decode: decodeKernel(cfg),
    gradF: gradFKernel(cfg),
    gradWEnc: gradWEncKernel(cfg),
    gradWDec: gradWDecKernel(cfg),
    colStatsIn: colStatsInKernel(cfg),
    colStatsSae: colStatsSaeKernel(cfg),
    gradBDec: gradBDecKernel(cfg),
    adam: adamKernel(cfg),
    metrics: metricsKernel(cfg),
    ...(arch === 'relu' ? { norms: rowNormsKernel(cfg, false) } : {}),
    ...(o.normalizeDecoder ? { normalize: rowNormsKernel(cfg, true) } : {}),
    ...(arch === 'topk' ? { topk: topkRowsKernel(cfg) } : {}),
    ...(arch === 'batchtopk' ? { hist: selectHistogramKernel(cfg), pick: selectPickKernel(cfg), apply: selectApplyKernel(cfg) } : {}),
  };
  type Name = keyof typeof kernels;

  const prepared = {} as Record<Name, Prepared>;
  await Promise.all(Object.entries(kernels).map(async ([name, kernel]) => (prepared[name as Name] = await prepare(device, kernel))));

  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const readback = device.createBuffer({ label: 'readback', size: (METRICS.size + dSae) * 4, usage: U.MAP_READ | U.COPY_DST });
  try {
    const f4 = 4;
    for (const n of names) {
      for (const prefix of ['', 'm_', 'u_']) make(`${prefix}${n}`, size(n) * f4);
    }
    make('grad_b_enc', dSae * f4);
    make('grad_b_dec', dIn * f4);
    if (arch === 'jumprelu') make('grad_log_threshold', dSae * f4);
    make('fired', dSae * f4);
    if (arch === 'relu') {
      make('fsum', dSae * f4);
      make('norms', dSae * f4);
    }
    make('in_stats', 3 * dIn * f4);
    make('metrics', METRICS.size * f4);
    make('step', STEP_WORDS * 4, U.UNIFORM | U.COPY_DST);
    if (arch === 'batchtopk') {
      make('sel', SELECT_WORDS * 4);
      make('hist', 256 * 4);
    }
    const upload = (name: string, data: Float32Array) => device.queue.writeBuffer(buf(name), 0, data.buffer, data.byteOffset, data.byteLength);
    for (const n of names) {
      upload(n, init[n]!);
      if (resume) {
        upload(`m_${n}`, resume.m[n]!);
        upload(`u_${n}`, resume.u ? resume.u[n]! : toAdamU(resume.v[n]!, b1, b2));
      }
    }
    await popScopes('GPU stepper');
  } catch (err) {
    readback.destroy();
    destroyAll();
    throw err;
  }

  // the parameters Adam updates in a kernel of their own (the matrices' products apply it themselves)
  const small = names.filter((n) => n !== 'W_enc' && n !== 'W_dec');
  // the batch buffers, made for the largest batch so far
  let capacity = 0;
  let groups: Partial<Record<Name, GPUBindGroup>> = {};
  /** the Adam kernel's bind groups, one a small parameter (b_enc, b_dec, log_threshold) */
  let adamGroups: GPUBindGroup[] = [];
  const bindGroup = (name: Name, rename: Record<string, string> = {}) => {
    const p = prepared[name];
    return device.createBindGroup({
      label: p.kernel.name,
      layout: p.layout,
      entries: p.kernel.bindings.map((b, i) => ({ binding: i, resource: { buffer: buf(rename[b.name] ?? b.name) } })),
    });
  };
  const ensureCapacity = async (batch: number) => {
    if (batch <= capacity) return;
    const wide = batch * dSae * 4;
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    if (wide > limit || batch * dSae >= 2 ** 32) {
      throw new Error(`step: a batch of ${batch} needs ${wide} bytes a [batch, d_sae] buffer, more than this GPU binds (${limit}): out of memory for this batch, use a smaller one`);
    }
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    make('x', batch * dIn * 4);
    make('e', batch * dIn * 4);
    make('f', wide);
    make('g', wide);
    if (arch !== 'relu') make('pre', wide);
    const next: typeof groups = {};
    for (const name of Object.keys(prepared) as Name[]) if (name !== 'adam') next[name] = bindGroup(name);
    const nextAdam = small.map((n) => bindGroup('adam', { p: n, m: `m_${n}`, u: `u_${n}`, grad: `grad_${n}` }));
    try {
      await popScopes(`step: batch buffers for ${batch} rows`);
    } catch (err) {
      for (const n of ['x', 'e', 'f', 'g', 'pre']) {
        bufs.get(n)?.destroy();
        bufs.delete(n);
      }
      capacity = 0;
      throw err;
    }
    groups = next;
    adamGroups = nextAdam;
    capacity = batch;
  };

  const stepWords = new ArrayBuffer(STEP_WORDS * 4);
  const stepU32 = new Uint32Array(stepWords);
  const stepF32 = new Float32Array(stepWords);
  const gs = Math.fround(1 - b1);
  let steps = resume?.steps ?? 0;
  let busy = false;
  let released = false;

  const download = async (list: string[]): Promise<Float32Array[]> => {
    if (released) throw new Error('GPU stepper: released');
    return (await readBuffers(device, list.map(buf))).map((b) => new Float32Array(b));
  };
  const asWeights = (arrays: Float32Array[]): SaeWeights => Object.fromEntries(names.map((n, i) => [n, arrays[i]!])) as unknown as SaeWeights;

  return {
    placement: { requested: o.device ?? 'webgpu', provider: 'webgpu', engine: 'wgsl', adapter: gpu.adapter.description || `${gpu.adapter.vendor} ${gpu.adapter.device}`.trim(), fallbackAdapter: gpu.adapter.isFallbackAdapter, fallbackReason: null },
    get steps() {
      return steps;
    },
    async step(x, batch, hp): Promise<StepMetrics> {
      if (released) throw new Error('GPU stepper: released');
      if (x.length !== batch * dIn) throw new Error(`step: ${x.length} values are not ${batch} rows of ${dIn}`);
      if (busy) throw new Error('step: the previous step has not finished');
      busy = true;
      try {
        await ensureCapacity(batch);
        const t = steps + 1;
        const s = adamScalars(t, hp.lr, b1, b2, eps);
        const invB = Math.fround(1 / batch);
        const l1 = Math.fround(arch === 'relu' || arch === 'jumprelu' ? (hp.l1 ?? 0) : 0);
        stepU32[STEP.batch] = batch;
        stepF32[STEP.invB] = invB;
        stepF32[STEP.gxScale] = invB * 2;
        stepF32[STEP.l1] = l1;
        stepF32[STEP.l1InvB] = l1 * invB;
        stepF32[STEP.l1InvBGs] = Math.fround(l1 * invB) * gs;
        stepF32[STEP.adamStep] = s.adam_step;
        stepF32[STEP.adamEps] = s.adam_eps;
        device.pushErrorScope('out-of-memory');
        device.pushErrorScope('validation');
        const q = device.queue;
        q.writeBuffer(buf('step'), 0, stepWords);
        q.writeBuffer(buf('x'), 0, x.buffer, x.byteOffset, x.byteLength);
        if (arch === 'batchtopk') {
          q.writeBuffer(buf('sel'), 0, Uint32Array.of(0, 0, k * batch, 0, 0, 0, 0, 0));
          q.writeBuffer(buf('hist'), 0, new Uint32Array(256));
        }
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        const run = (name: Name, [gx, gy]: [number, number], group = groups[name]) => {
          pass.setPipeline(prepared[name].pipeline);
          pass.setBindGroup(0, group!);
          pass.dispatchWorkgroups(gx, gy);
        };
        const tiles = (rows: number, cols: number): [number, number] => [ceil(cols, TILE), ceil(rows, TILE)];
        // the order matters: each parameter is read by all its readers before Adam overwrites it
        if (arch === 'relu') run('norms', flat(dSae)); // ‖W_dec[s]‖ before the update
        run('encode', tiles(batch, dSae));
        if (arch === 'topk') run('topk', flat(batch));
        if (arch === 'batchtopk') {
          const n = batch * dSae;
          for (let p = 0; p < 8; p++) {
            run('hist', [Math.min(ceil(n, WORKGROUP * HIST_PER_THREAD), HIST_WORKGROUPS), 1]);
            run('pick', [1, 1]);
          }
          run('apply', flat(ceil(n, WORKGROUP)));
        }
        run('decode', tiles(batch, dIn));
        run('colStatsIn', [ceil(dIn, COLUMNS), 1]);
        run('gradF', tiles(batch, dSae));
        run('colStatsSae', [ceil(dSae, COLUMNS), 1]);
        run('gradBDec', flat(dIn)); // reads W_enc
        run('gradWEnc', tiles(dIn, dSae)); // reads b_dec, updates W_enc
        run('gradWDec', tiles(dSae, dIn)); // updates W_dec
        small.forEach((n, i) => run('adam', flat(ceil(size(n), WORKGROUP)), adamGroups[i]));
        if (o.normalizeDecoder) run('normalize', flat(dSae));
        run('metrics', [1, 1]);
        pass.end();
        enc.copyBufferToBuffer(buf('metrics'), 0, readback, 0, METRICS.size * 4);
        enc.copyBufferToBuffer(buf('fired'), 0, readback, METRICS.size * 4, dSae * 4);
        q.submit([enc.finish()]);
        await popScopes('step');
        await readback.mapAsync(gpuFlags.GPUMapMode.READ);
        const out = new Float32Array(readback.getMappedRange()).slice();
        readback.unmap();
        steps = t;
        const sse = out[METRICS.sse]!;
        const sst = out[METRICS.sst]!;
        return {
          loss: out[METRICS.loss]!,
          mse: out[METRICS.mse]!,
          l1: out[METRICS.l1]!,
          l0: out[METRICS.l0]!,
          explainedVariance: sst > 0 ? 1 - sse / sst : 0,
          fired: out.subarray(METRICS.size),
          batchThreshold: arch === 'batchtopk' ? out[METRICS.batchThreshold]! : null,
        };
      } finally {
        busy = false;
      }
    },
    weights: async () => asWeights(await download(names)),
    async state() {
      const at = steps;
      const all = await download([...names, ...names.map((n) => `m_${n}`), ...names.map((n) => `u_${n}`)]);
      const part = (i: number) => asWeights(all.slice(i * names.length, (i + 1) * names.length));
      return { weights: part(0), m: part(1), u: part(2), steps: at };
    },
    async release() {
      if (released) return;
      released = true;
      readback.destroy();
      destroyAll();
    },
  };
}
