/**
 * An SAE inside a model's forward pass: at the SAE's hook point the value x
 * becomes a·x + b·x̂ (x̂ the SAE's reconstruction), with the SAE weights and
 * (a, b) as graph inputs, so one session serves the clean pass (1, 0), the
 * spliced pass (0, 1) and the zero-ablated pass (0, 0) with any weights —
 * the three losses of "CE-loss recovered".
 */
import type { Intervention } from '../architectures/decoder.ts';
import type { LoadedModel } from '../model.ts';
import { DataType } from '../onnx/proto.ts';
import type { Value } from '../onnx/graph.ts';
import { ort } from '../runtime.ts';
import type { SaeArchitecture } from './graph.ts';
import type { SaeWeights } from './stepper.ts';

export interface SpliceSpec {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  k?: number | null;
}

export function saeSplice(s: SpliceSpec): Intervention {
  return (g, x) => {
    const W_enc = g.input('sae.W_enc', DataType.FLOAT, [s.dIn, s.dSae]);
    const b_enc = g.input('sae.b_enc', DataType.FLOAT, [s.dSae]);
    const W_dec = g.input('sae.W_dec', DataType.FLOAT, [s.dSae, s.dIn]);
    const b_dec = g.input('sae.b_dec', DataType.FLOAT, [s.dIn]);
    const mix = g.input('sae.mix', DataType.FLOAT, [2]);
    const pre = g.add(g.matmul(g.sub(x, b_dec), W_enc), b_enc);
    let f: Value;
    if (s.architecture === 'relu') f = g.op('Relu', [pre]);
    else if (s.architecture === 'jumprelu' || s.architecture === 'batchtopk') {
      const threshold = g.input('sae.threshold', DataType.FLOAT, [s.dSae]);
      f = g.mul(pre, g.cast(g.op('Greater', [pre, threshold]), DataType.FLOAT));
    } else {
      const [vals, idx] = g.node('TopK', [pre, g.constI([s.k!])], { axis: -1, largest: 1, sorted: 0 }, { outputs: 2 }) as [Value, Value];
      const zeros = g.op('ConstantOfShape', [g.op('Shape', [pre])], { value: { name: 'zero', dataType: DataType.FLOAT, dims: [1], raw: new Uint8Array(4) } });
      f = g.op('ScatterElements', [zeros, idx, g.op('Relu', [vals])], { axis: -1 });
    }
    const xhat = g.add(g.matmul(f, W_dec), b_dec);
    const a = g.slice(mix, 0, 0, 1);
    const b = g.slice(mix, 0, 1, 2);
    return g.add(g.mul(x, a), g.mul(xhat, b));
  };
}

/** The feeds of a spliced model for given weights and mix (a, b). */
export function spliceFeeds(w: SaeWeights, s: SpliceSpec, mix: readonly [number, number]): Record<string, ort.Tensor> {
  return {
    'sae.W_enc': new ort.Tensor('float32', w.W_enc, [s.dIn, s.dSae]),
    'sae.b_enc': new ort.Tensor('float32', w.b_enc, [s.dSae]),
    'sae.W_dec': new ort.Tensor('float32', w.W_dec, [s.dSae, s.dIn]),
    'sae.b_dec': new ort.Tensor('float32', w.b_dec, [s.dIn]),
    'sae.mix': new ort.Tensor('float32', Float32Array.from(mix), [2]),
    ...(s.architecture === 'jumprelu' || s.architecture === 'batchtopk' ? { 'sae.threshold': new ort.Tensor('float32', w.threshold!, [s.dSae]) } : {}),
  };
}

export interface CeLossRecovered {
  clean: number;
  spliced: number;
  zero: number;
  /** (zero - spliced) / (zero - clean): 1 when the SAE loses nothing, 0 when it is as bad as ablating the hook */
  recovered: number;
}

function mean(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** CE-loss recovered on token ids [batch, pos], with a model loaded with {@link saeSplice} at the SAE's hook. */
export async function ceLossRecovered(model: LoadedModel, s: SpliceSpec, w: SaeWeights, ids: BigInt64Array, dims: readonly [number, number]): Promise<CeLossRecovered> {
  const loss = async (mix: [number, number]) => mean((await model.forward(ids, dims, ['token_nll'], spliceFeeds(w, s, mix))).token_nll!.data);
  const clean = await loss([1, 0]);
  const spliced = await loss([0, 1]);
  const zero = await loss([0, 0]);
  return { clean, spliced, zero, recovered: zero !== clean ? (zero - spliced) / (zero - clean) : 1 };
}
