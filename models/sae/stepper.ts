/**
 * Runs SAE training steps on an ONNX Runtime session of the graph in
 * graph.ts, carrying the parameters and Adam state from one step's outputs
 * to the next step's inputs.
 */
import { createSession, ort, type Device, type Session } from '../runtime.ts';
import { buildSaeStep, paramShapes, saeParams, type SaeArchitecture, type SaeParam } from './graph.ts';

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

export interface SaeStepper {
  readonly provider: string;
  /** Adam steps taken so far */
  readonly steps: number;
  step(x: Float32Array, batch: number, hp: { lr: number; l1?: number }): Promise<StepMetrics>;
  weights(): SaeWeights;
  /** parameters and Adam moments, for a checkpoint */
  state(): { weights: SaeWeights; m: SaeWeights; v: SaeWeights; steps: number };
  release(): Promise<void>;
}

function tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, [...dims]);
}

type Params = Partial<Record<SaeParam, Float32Array>>;

export async function createStepper(o: StepperOptions, init: SaeWeights, resume?: { m: SaeWeights; v: SaeWeights; steps: number }): Promise<SaeStepper> {
  const shapes = paramShapes(o.dIn, o.dSae);
  const names = saeParams(o.architecture);
  const graph = buildSaeStep({ ...o, mode: 'train' });
  const session: Session = await createSession(graph.toModel(), { device: o.device, threads: o.threads });
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const pick = (w: SaeWeights): Params => Object.fromEntries(names.map((n) => [n, w[n]]));
  const zeros = (): Params => Object.fromEntries(names.map((n) => [n, new Float32Array(shapes[n].reduce((a, b) => a * b, 1))]));
  let params = pick(init);
  let m = resume ? pick(resume.m) : zeros();
  let v = resume ? pick(resume.v) : zeros();
  let steps = resume?.steps ?? 0;
  for (const n of names) {
    const want = shapes[n].reduce((a, b) => a * b, 1);
    for (const [what, arr] of [['weights', params[n]], ['m', m[n]], ['v', v[n]]] as const) {
      if (!arr) throw new Error(`SAE ${what}: no ${n} (a ${o.architecture} SAE has ${names.join(', ')})`);
      if (arr.length !== want) throw new Error(`SAE ${what} ${n}: ${arr.length} values, expected ${want} ([${shapes[n].join(', ')}])`);
    }
  }
  const asWeights = (p: Params): SaeWeights => ({ ...(p as Record<SaeParam, Float32Array>) });
  return {
    provider: session.provider,
    get steps() {
      return steps;
    },
    async step(x, batch, hp) {
      if (x.length !== batch * o.dIn) throw new Error(`step: ${x.length} values are not ${batch} rows of ${o.dIn}`);
      const t = steps + 1;
      const feeds: Record<string, ort.Tensor> = {
        x: tensor(x, [batch, o.dIn]),
        step_size: tensor(Float32Array.of(hp.lr / (1 - b1 ** t)), []),
        inv_sqrt_bc2: tensor(Float32Array.of(1 / Math.sqrt(1 - b2 ** t)), []),
      };
      if (o.architecture === 'relu' || o.architecture === 'jumprelu') feeds.l1 = tensor(Float32Array.of(hp.l1 ?? 0), []);
      for (const n of names) {
        feeds[n] = tensor(params[n]!, shapes[n]);
        feeds[`m_${n}`] = tensor(m[n]!, shapes[n]);
        feeds[`v_${n}`] = tensor(v[n]!, shapes[n]);
      }
      const out = await session.run(feeds);
      const f32 = (name: string) => out[name]!.data as Float32Array;
      params = Object.fromEntries(names.map((n) => [n, f32(`new_${n}`)]));
      m = Object.fromEntries(names.map((n) => [n, f32(`new_m_${n}`)]));
      v = Object.fromEntries(names.map((n) => [n, f32(`new_v_${n}`)]));
      steps = t;
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
    weights: () => asWeights(params),
    state: () => ({ weights: asWeights(params), m: asWeights(m), v: asWeights(v), steps }),
    release: () => session.release(),
  };
}
