/**
 * Runs SAE training steps on an ONNX Runtime session of the graph in
 * graph.ts, carrying the parameters and Adam state from one step's outputs
 * to the next step's inputs. The state lives in two sets of buffers that
 * swap roles every step: a step reads one set (ONNX Runtime takes CPU
 * inputs without copying) and writes the other (pre-allocated outputs), so
 * no step allocates or copies the parameters and moments.
 */
import { logger } from '../log.ts';
import { createSession, ort, type Device, type Placement, type Session } from '../runtime.ts';
import { chooseWgsl, requestedDevice } from './gpu/choice.ts';
import { adamScalars, buildSaeStep, paramShapes, saeParams, toAdamU, type SaeArchitecture, type SaeParam } from './graph.ts';

export interface SaeWeights {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
  /** JumpReLU while training: log of the per-feature threshold */
  log_threshold?: Float32Array;
  /** JumpReLU (and BatchTopK) at inference: the per-feature threshold, as SAELens stores it */
  threshold?: Float32Array;
}

export interface StepperOptions {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  k?: number;
  bandwidth?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  normalizeDecoder?: boolean;
  device?: Device;
  threads?: number;
}

export interface StepMetrics {
  loss: number;
  mse: number;
  l1: number;
  l0: number;
  /** 1 - Σ(x̂-x)² / Σ(x - mean x)² over the batch */
  explainedVariance: number;
  /** tokens on which each feature fired in this step */
  fired: Float32Array;
  /** BatchTopK: the smallest activation kept in this batch */
  batchThreshold: number | null;
}

/**
 * One SAE's training state and its step: the ONNX graph here (any ONNX
 * Runtime provider, the state on the host), or WGSL kernels with the state
 * resident on a GPU (gpu/stepper.ts). Reading the state may have to wait
 * for the device, so `weights()` and `state()` are asynchronous.
 */
export interface SaeStepper {
  /** where the steps run: the ONNX graph on a provider, or the WGSL kernels on an adapter */
  readonly placement: Placement;
  /** Adam steps taken so far */
  readonly steps: number;
  step(x: Float32Array, batch: number, hp: { lr: number; l1?: number }): Promise<StepMetrics>;
  /** copies of the current parameters */
  weights(): Promise<SaeWeights>;
  /** copies of the parameters and Adam's moments (m as torch's, the second moment as u: graph.ts), for a checkpoint */
  state(): Promise<{ weights: SaeWeights; m: SaeWeights; u: SaeWeights; steps: number }>;
  release(): Promise<void>;
}

function tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, [...dims]);
}

type Params = Partial<Record<SaeParam, Float32Array>>;

/** Adam's state to resume from: the second moment as the graph keeps it (u) or as torch does (v). */
export type AdamResume = { m: SaeWeights; steps: number } & ({ u: SaeWeights; v?: undefined } | { v: SaeWeights; u?: undefined });

/** Checks that `init` (and `resume`'s moments) hold every parameter of the architecture with its shape's size; throws naming the first that does not. */
export function checkStepperState(o: Pick<StepperOptions, 'architecture' | 'dIn' | 'dSae'>, init: SaeWeights, resume?: AdamResume): void {
  const shapes = paramShapes(o.dIn, o.dSae);
  const names = saeParams(o.architecture);
  const size = (n: SaeParam) => shapes[n].reduce((a, b) => a * b, 1);
  for (const n of names) {
    for (const [what, arr] of [['weights', init[n]], ['m', resume?.m[n]], ['u', (resume?.u ?? resume?.v)?.[n]]] as const) {
      if (what !== 'weights' && !resume) continue;
      if (!arr) throw new Error(`SAE ${what}: no ${n} (a ${o.architecture} SAE has ${names.join(', ')})`);
      if (arr.length !== size(n)) throw new Error(`SAE ${what} ${n}: ${arr.length} values, expected ${size(n)} ([${shapes[n].join(', ')}])`);
    }
  }
}

/**
 * The ONNX graph's stepper on `o.device`'s provider. `notOnGpu` is why the
 * GPU-resident stepper was not used (createTrainingStepper's `auto`): its
 * placement records it.
 */
export async function createStepper(o: StepperOptions, init: SaeWeights, resume?: AdamResume, notOnGpu?: string): Promise<SaeStepper> {
  const shapes = paramShapes(o.dIn, o.dSae);
  const names = saeParams(o.architecture);
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const size = (n: SaeParam) => shapes[n].reduce((a, b) => a * b, 1);
  checkStepperState(o, init, resume);
  const graph = buildSaeStep({ ...o, mode: 'train' });
  const session: Session = await createSession(graph.toModel(), { device: o.device, threads: o.threads });

  /** One set of state buffers: parameters, first moments, second moments as u (graph.ts). */
  interface State { p: Params; m: Params; u: Params }
  const fresh = (): State => {
    const make = () => Object.fromEntries(names.map((n) => [n, new Float32Array(size(n))])) as Params;
    return { p: make(), m: make(), u: make() };
  };
  let cur: State;
  let next: State;
  try {
    cur = fresh();
    next = fresh();
  } catch (err) {
    // six copies of the parameters may not fit: the session must not outlive the stepper that was never made
    await session.release();
    throw err;
  }
  for (const n of names) {
    cur.p[n]!.set(init[n]!);
    if (resume) {
      cur.m[n]!.set(resume.m[n]!);
      cur.u[n]!.set(resume.u ? resume.u[n]! : toAdamU(resume.v[n]!, b1, b2));
    }
  }
  let steps = resume?.steps ?? 0;
  // the outputs ONNX Runtime allocates (the small per-step values), by name
  const small = Object.fromEntries(session.outputNames.filter((n) => !/^new_/.test(n)).map((n) => [n, null]));
  const copy = (p: Params): SaeWeights => Object.fromEntries(names.map((n) => [n, p[n]!.slice()])) as unknown as SaeWeights;
  const placement: Placement = notOnGpu ? { ...session.placement, fallbackReason: notOnGpu } : session.placement;
  return {
    placement,
    get steps() {
      return steps;
    },
    async step(x, batch, hp) {
      if (x.length !== batch * o.dIn) throw new Error(`step: ${x.length} values are not ${batch} rows of ${o.dIn}`);
      const t = steps + 1;
      const s = adamScalars(t, hp.lr, b1, b2, eps);
      const feeds: Record<string, ort.Tensor> = {
        x: tensor(x, [batch, o.dIn]),
        adam_step: tensor(Float32Array.of(s.adam_step), []),
        adam_eps: tensor(Float32Array.of(s.adam_eps), []),
      };
      if (o.architecture === 'relu' || o.architecture === 'jumprelu') feeds.l1 = tensor(Float32Array.of(hp.l1 ?? 0), []);
      const fetches: Record<string, ort.Tensor | null> = { ...small };
      for (const n of names) {
        feeds[n] = tensor(cur.p[n]!, shapes[n]);
        feeds[`m_${n}`] = tensor(cur.m[n]!, shapes[n]);
        feeds[`u_${n}`] = tensor(cur.u[n]!, shapes[n]);
        fetches[`new_${n}`] = tensor(next.p[n]!, shapes[n]);
        fetches[`new_m_${n}`] = tensor(next.m[n]!, shapes[n]);
        fetches[`new_u_${n}`] = tensor(next.u[n]!, shapes[n]);
      }
      const out = await session.runInto(feeds, fetches);
      [cur, next] = [next, cur];
      steps = t;
      const f32 = (name: string) => out[name]!.data as Float32Array;
      const sst = f32('sst')[0]!;
      return {
        loss: f32('loss')[0]!,
        mse: f32('mse')[0]!,
        l1: f32('l1_loss')[0]!,
        l0: f32('l0')[0]!,
        explainedVariance: sst > 0 ? 1 - f32('sse')[0]! / sst : 0,
        fired: f32('fired'),
        batchThreshold: out.batch_threshold ? f32('batch_threshold')[0]! : null,
      };
    },
    weights: async () => copy(cur.p),
    state: async () => ({ weights: copy(cur.p), m: copy(cur.m), u: copy(cur.u), steps }),
    release: () => session.release(),
  };
}

const log = logger('sae');

/**
 * The stepper training runs on, by `o.device` (default LOUPE_DEVICE, else
 * auto): `webgpu` is the GPU-resident stepper (gpu/stepper.ts: WGSL
 * kernels through Dawn, the state on the device between steps; an error
 * when there is no adapter); `cpu` the ONNX graph on the CPU; `auto` the
 * GPU-resident stepper on a real GPU, else (no GPU device, no adapter, or
 * only a software fallback adapter) the ONNX graph with ONNX Runtime's own
 * choice, the reason logged.
 */
export async function createTrainingStepper(o: StepperOptions, init: SaeWeights, resume?: AdamResume): Promise<SaeStepper> {
  const device = requestedDevice(o.device);
  const choice = await chooseWgsl(device);
  let reason = choice.wgsl ? null : choice.reason;
  if (choice.wgsl) {
    const { createGpuStepper } = await import('./gpu/stepper.ts');
    if (device === 'webgpu') return createGpuStepper({ ...o, device }, init, resume);
    try {
      return await createGpuStepper({ ...o, device }, init, resume);
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err); // auto: the CPU path still trains
    }
  }
  if (device === 'cpu') return createStepper({ ...o, device }, init, resume);
  log.info('training on the ONNX graph, not on the GPU', { reason });
  return createStepper({ ...o, device: 'auto' }, init, resume, reason ?? undefined);
}
