/**
 * The encoder half of an SAE as an ONNX session: rows x [N, d_in] → feature
 * activations. TopK SAEs give (values, indices) [N, k]; the others give the
 * dense [N, d_sae] activations.
 */
import { DataType } from '../onnx/proto.ts';
import { Graph, type Value } from '../onnx/graph.ts';
import { createSession, ort, type Device, type Placement, type Session } from '../runtime.ts';
import type { SaeConfig } from './saelens.ts';
import type { SaeWeights } from './stepper.ts';

export type EncodedRows = { kind: 'sparse'; k: number; values: Float32Array; indices: BigInt64Array } | { kind: 'dense'; acts: Float32Array };

export interface SaeEncoder {
  /** where it runs (its ONNX Runtime session's placement) */
  readonly placement: Placement;
  encode(x: Float32Array, rows: number): Promise<EncodedRows>;
  release(): Promise<void>;
}

/**
 * The encoder as an ONNX graph: input `x` float32 [rows, d_in]; outputs
 * `values` float32 and `indices` int64 [rows, k] for a TopK SAE (`sparse`),
 * else `acts` float32 [rows, d_sae]. The server's sessions run it, and the
 * browser's inspector runs the same bytes (models/features/inspector-bundle.ts).
 */
export function encoderGraph(cfg: SaeConfig, w: SaeWeights): { graph: Graph; sparse: boolean } {
  const g = new Graph('sae_encode');
  const { dIn, dSae } = cfg;
  const x = g.input('x', DataType.FLOAT, ['rows', dIn]);
  const W_enc = g.initializer('W_enc', DataType.FLOAT, [dIn, dSae], w.W_enc);
  const b_enc = g.initializer('b_enc', DataType.FLOAT, [dSae], w.b_enc);
  const b_dec = g.initializer('b_dec', DataType.FLOAT, [dIn], w.b_dec);
  const pre = g.add(g.matmul(g.sub(x, b_dec), W_enc), b_enc);
  let sparse = false;
  if (cfg.architecture === 'topk') {
    const [vals, idx] = g.node('TopK', [pre, g.constI([cfg.k!])], { axis: -1, largest: 1, sorted: 1 }, { outputs: 2 }) as [Value, Value];
    g.output(g.hook(g.op('Relu', [vals]), 'values'));
    g.output(g.hook(idx, 'indices'), DataType.INT64);
    sparse = true;
  } else if (cfg.architecture === 'relu') {
    g.output(g.hook(g.op('Relu', [pre]), 'acts'));
  } else {
    if (!w.threshold) throw new Error(`a ${cfg.architecture} SAE needs its thresholds`);
    const t = g.initializer('threshold', DataType.FLOAT, [dSae], w.threshold);
    g.output(g.hook(g.mul(pre, g.cast(g.op('Greater', [pre, t]), DataType.FLOAT)), 'acts'));
  }
  return { graph: g, sparse };
}

export async function createEncoder(cfg: SaeConfig, w: SaeWeights, opts: { device?: Device } = {}): Promise<SaeEncoder> {
  const { dIn } = cfg;
  const { graph: g, sparse } = encoderGraph(cfg, w);
  const session: Session = await createSession(g.toModel(), { device: opts.device });
  return {
    placement: session.placement,
    async encode(data, rows) {
      const out = await session.run({ x: new ort.Tensor('float32', data, [rows, dIn]) });
      return sparse
        ? { kind: 'sparse', k: cfg.k!, values: out.values!.data as Float32Array, indices: out.indices!.data as BigInt64Array }
        : { kind: 'dense', acts: out.acts!.data as Float32Array };
    },
    release: () => session.release(),
  };
}

/** Calls `visit(row, feature, value)` for every active feature of every row. */
export function forEachActive(e: EncodedRows, rows: number, dSae: number, visit: (row: number, feature: number, value: number) => void): void {
  if (e.kind === 'sparse') {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < e.k; j++) {
        const v = e.values[r * e.k + j]!;
        if (v > 0) visit(r, Number(e.indices[r * e.k + j]!), v);
      }
    }
    return;
  }
  const a = e.acts;
  for (let r = 0; r < rows; r++) {
    const o = r * dSae;
    for (let f = 0; f < dSae; f++) {
      const v = a[o + f]!;
      if (v > 0) visit(r, f, v);
    }
  }
}
