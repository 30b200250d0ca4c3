/**
 * Runs SAE training steps on an ONNX Runtime session of the graph in
 * graph.ts, carrying the parameters and Adam state from one step's outputs
 * to the next step's inputs.
 */
import { createSession, ort, type Device, type Session } from '../runtime.ts';
import { buildSaeStep, paramShapes, SAE_PARAMS, type SaeArchitecture, type SaeParam } from './graph.ts';

export interface SaeWeights {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
}

export interface StepperOptions {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  k?: number;
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

export async function createStepper(o: StepperOptions, init: SaeWeights, resume?: { m: SaeWeights; v: SaeWeights; steps: number }): Promise<SaeStepper> {
  const shapes = paramShapes(o.dIn, o.dSae);
  const graph = buildSaeStep({ ...o, mode: 'train' });
  const session: Session = await createSession(graph.toModel(), { device: o.device, threads: o.threads });
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  let params: Record<SaeParam, Float32Array> = { ...init };
  let m: Record<SaeParam, Float32Array> = resume ? { ...resume.m } : (Object.fromEntries(SAE_PARAMS.map((n) => [n, new Float32Array(init[n].length)])) as Record<SaeParam, Float32Array>);
  let v: Record<SaeParam, Float32Array> = resume ? { ...resume.v } : (Object.fromEntries(SAE_PARAMS.map((n) => [n, new Float32Array(init[n].length)])) as Record<SaeParam, Float32Array>);
  let steps = resume?.steps ?? 0;
  for (const n of SAE_PARAMS) {
    const want = shapes[n].reduce((a, b) => a * b, 1);
    for (const [what, arr] of [['weights', params[n]], ['m', m[n]], ['v', v[n]]] as const) {
      if (arr.length !== want) throw new Error(`SAE ${what} ${n}: ${arr.length} values, expected ${want} ([${shapes[n].join(', ')}])`);
    }
  }
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
      if (o.architecture === 'relu') feeds.l1 = tensor(Float32Array.of(hp.l1 ?? 0), []);
      for (const n of SAE_PARAMS) {
        feeds[n] = tensor(params[n], shapes[n]);
        feeds[`m_${n}`] = tensor(m[n], shapes[n]);
        feeds[`v_${n}`] = tensor(v[n], shapes[n]);
      }
      const out = await session.run(feeds);
      const f32 = (name: string) => out[name]!.data as Float32Array;
      params = Object.fromEntries(SAE_PARAMS.map((n) => [n, f32(`new_${n}`)])) as Record<SaeParam, Float32Array>;
      m = Object.fromEntries(SAE_PARAMS.map((n) => [n, f32(`new_m_${n}`)])) as Record<SaeParam, Float32Array>;
      v = Object.fromEntries(SAE_PARAMS.map((n) => [n, f32(`new_v_${n}`)])) as Record<SaeParam, Float32Array>;
      steps = t;
      const sst = f32('sst')[0]!;
      return {
        loss: f32('loss')[0]!,
        mse: f32('mse')[0]!,
        l1: f32('l1_loss')[0]!,
        l0: f32('l0')[0]!,
        explainedVariance: sst > 0 ? 1 - f32('sse')[0]! / sst : 0,
        fired: f32('fired'),
      };
    },
    weights: () => ({ ...params }),
    state: () => ({ weights: { ...params }, m: { ...m }, v: { ...v }, steps }),
    release: () => session.release(),
  };
}
