/**
 * One SAE training step as an ONNX graph: forward, hand-derived backward and
 * the Adam update, so the same step runs on every ONNX Runtime execution
 * provider. Shapes: x [B, d_in], W_enc [d_in, d_sae], b_enc [d_sae],
 * W_dec [d_sae, d_in], b_dec [d_in].
 *
 *   xc   = x - b_dec
 *   pre  = xc·W_enc + b_enc
 *   f    = relu(pre)                       (ReLU)
 *        | relu(top-k of pre, others 0)    (TopK)
 *   x̂    = f·W_dec + b_dec
 *   loss = mean_b Σ_d (x̂ - x)²  [+ λ · mean_b Σ_s f_s ‖W_dec[s]‖  for ReLU]
 *
 * Backward (B = batch; n_s = ‖W_dec[s]‖; m = the mask of pre that reached f):
 *   g_x̂    = 2 (x̂ - x) / B
 *   g_Wdec = fᵀ·g_x̂  [+ (λ/B) (Σ_b f_bs) W_dec[s] / n_s]
 *   g_f    = g_x̂·W_decᵀ  [+ (λ/B) n_s]
 *   g_pre  = g_f ⊙ m
 *   g_Wenc = xcᵀ·g_pre,  g_benc = Σ_b g_pre
 *   g_bdec = Σ_b g_x̂ - g_benc·W_encᵀ     (b_dec enters through x̂ and, negated, through xc)
 *
 * Adam as torch.optim.Adam (m' = β1 m + (1-β1) g, v' = β2 v + (1-β2) g²,
 * p' = p - lr/(1-β1^t) · m' / (√v' / √(1-β2^t) + ε)), in as few passes over
 * the big matrices as ONNX's operators allow, since on a CPU the elementwise
 * passes cost as much as a sixth product:
 * - the gradient products come out already multiplied by (1-β1) (Gemm's
 *   alpha), and the decoder's L1 term and g_f's norm term ride in the Gemm's
 *   C input instead of separate additions;
 * - the second moment is kept as u = v · (1-β1)² / (1-β2), so that
 *   u' = β2 u + ((1-β1) g)² needs no scaling pass ({@link toAdamU});
 * - the per-step scalars fold the bias corrections: p' = p - adam_step · m' /
 *   (√u' + adam_eps) ({@link adamScalars}).
 */
import { DataType } from '../onnx/proto.ts';
import { Graph, type Value } from '../onnx/graph.ts';

export type SaeArchitecture = 'relu' | 'topk' | 'batchtopk' | 'jumprelu';
export const SAE_ARCHITECTURES: readonly SaeArchitecture[] = ['relu', 'topk', 'batchtopk', 'jumprelu'];

/** The parameters every SAE has. */
export const SAE_PARAMS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
export type SaeParam = (typeof SAE_PARAMS)[number] | 'log_threshold';

/** The trained parameters of an architecture: JumpReLU adds a per-feature log threshold. */
export function saeParams(arch: SaeArchitecture): SaeParam[] {
  return arch === 'jumprelu' ? [...SAE_PARAMS, 'log_threshold'] : [...SAE_PARAMS];
}

export interface SaeGraphOptions {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  /** TopK: active features a token; BatchTopK: on average (k · batch over the batch) */
  k?: number;
  /** JumpReLU: width of the rectangle kernel of the threshold's pseudo-derivative */
  bandwidth?: number;
  /** 'grad' outputs the gradients (for checks); 'train' applies Adam */
  mode: 'grad' | 'train';
  beta1?: number;
  beta2?: number;
  /** rescale decoder rows to unit norm after each update */
  normalizeDecoder?: boolean;
  /** TopK: compute through gathers and scatter-adds over the k active features (default) instead of dense products */
  sparse?: boolean;
}

/** Shapes of the parameters. */
export function paramShapes(dIn: number, dSae: number): Record<SaeParam, number[]> {
  return { W_enc: [dIn, dSae], b_enc: [dSae], W_dec: [dSae, dIn], b_dec: [dIn], log_threshold: [dSae] };
}

/** The per-step scalars of the train graph's Adam for step t (1-based): lr/(1-β1^t) and ε with the bias corrections and u's scale folded in. */
export function adamScalars(t: number, lr: number, beta1: number, beta2: number, eps: number): { adam_step: number; adam_eps: number } {
  // √v' / √(1-β2^t) = K √u' with K = √(1-β2) / ((1-β1) √(1-β2^t))
  const k = Math.sqrt(1 - beta2) / ((1 - beta1) * Math.sqrt(1 - beta2 ** t));
  return { adam_step: lr / (1 - beta1 ** t) / k, adam_eps: eps / k };
}

/** Adam's second moment v as the train graph keeps it: u = v · (1-β1)² / (1-β2) (a new array). */
export function toAdamU(v: Float32Array, beta1: number, beta2: number): Float32Array {
  const c = (1 - beta1) ** 2 / (1 - beta2);
  return v.map((x) => x * c);
}

/**
 * Inputs: `x`, the four parameters, `l1` (scalar λ, ReLU), and in train mode
 * `m_<p>`, `u_<p>` for each parameter and the scalars `adam_step`,
 * `adam_eps` ({@link adamScalars}). Outputs: `loss`, `mse`, `l1_loss`, `l0`
 * (mean active features a token), `sse` and `sst` (Σ (x̂-x)² and
 * Σ (x - mean_b x)², for explained variance), `fired` [d_sae] (tokens on
 * which each feature was active), and `grad_<p>` (grad mode) or `new_<p>`,
 * `new_m_<p>`, `new_u_<p>` (train mode).
 */
export function buildSaeStep(o: SaeGraphOptions): Graph {
  const g = new Graph(`sae_${o.architecture}_${o.mode}`);
  const { dIn, dSae } = o;
  const shapes = paramShapes(dIn, dSae);
  const x = g.input('x', DataType.FLOAT, ['batch', dIn]);
  const params = saeParams(o.architecture);
  const p = Object.fromEntries(params.map((n) => [n, g.input(n, DataType.FLOAT, shapes[n])])) as Record<SaeParam, Value>;
  // ReLU: the L1 coefficient; JumpReLU: the L0 coefficient
  const l1 = o.architecture === 'relu' || o.architecture === 'jumprelu' ? g.input('l1', DataType.FLOAT, []) : null;

  const batch = g.cast(g.op('Shape', [x], { start: 0, end: 1 }), DataType.FLOAT); // [1]
  const invB = g.div(g.constF(1), batch);

  const b1 = o.beta1 ?? 0.9;
  // train mode: every gradient comes out multiplied by (1-β1), Adam's weight on it
  const gs = o.mode === 'train' ? 1 - b1 : 1;
  const core = o.architecture === 'topk' && o.sparse !== false ? sparseTopkCore({ g, o, x, p, l1, invB, gs }) : denseCore({ g, o, x, p, l1, invB, gs });
  const { loss, mse, l1Loss, l0, sse, fired, grads } = core;
  const xMean = g.op('ReduceMean', [x], { axes: [0], keepdims: 1 });
  const dev = g.sub(x, xMean);
  const sst = g.op('ReduceSum', [g.mul(dev, dev)], { keepdims: 0 });

  g.hook(loss, 'loss');
  g.hook(mse, 'mse');
  g.hook(l1Loss, 'l1_loss');
  g.hook(l0, 'l0');
  g.hook(sse, 'sse');
  g.hook(sst, 'sst');
  g.hook(fired, 'fired');
  for (const n of ['loss', 'mse', 'l1_loss', 'l0', 'sse', 'sst', 'fired']) g.output(n);

  if (o.mode === 'grad') {
    for (const n of params) g.output(g.hook(grads[n], `grad_${n}`));
    return g;
  }
  const b2 = o.beta2 ?? 0.999;
  const adamStep = g.input('adam_step', DataType.FLOAT, []);
  const adamEps = g.input('adam_eps', DataType.FLOAT, []);
  const updated: Record<string, Value> = {};
  for (const n of params) {
    const m = g.input(`m_${n}`, DataType.FLOAT, shapes[n]);
    const u = g.input(`u_${n}`, DataType.FLOAT, shapes[n]);
    const gr = grads[n]; // (1-β1) g
    const m2 = g.hook(g.add(g.scale(m, b1), gr), `new_m_${n}`);
    const u2 = g.hook(g.add(g.scale(u, b2), g.mul(gr, gr)), `new_u_${n}`);
    updated[n] = g.sub(p[n], g.mul(adamStep, g.div(m2, g.add(g.op('Sqrt', [u2]), adamEps))));
    g.output(m2);
    g.output(u2);
  }
  if (o.normalizeDecoder) {
    const n2 = g.op('Sqrt', [g.op('ReduceSum', [g.mul(updated.W_dec!, updated.W_dec!), g.constI([1])], { keepdims: 1 })]);
    updated.W_dec = g.div(updated.W_dec!, n2);
  }
  for (const n of params) g.output(g.hook(updated[n]!, `new_${n}`));
  return g;
}

/** W · v for W [d, s] and v [s]: as a product with an [s, 1] matrix, which ONNX Runtime runs ~20× faster than MatMul with a 1-D vector. */
function gemv(g: Graph, w: Value, v: Value): Value {
  return g.op('Squeeze', [g.matmul(w, g.unsqueeze(v, [1])), g.constI([1])]);
}

/** What a step's core computes: the loss terms, the batch statistics and the gradients. */
interface StepCore {
  loss: Value;
  mse: Value;
  l1Loss: Value;
  l0: Value;
  sse: Value;
  fired: Value;
  grads: Record<SaeParam, Value>;
}

interface CoreInputs {
  g: Graph;
  o: SaeGraphOptions;
  x: Value;
  p: Record<SaeParam, Value>;
  l1: Value | null;
  invB: Value;
  /** the factor every gradient output carries (1-β1 in train mode, 1 in grad mode) */
  gs: number;
}

/** Every architecture with dense [B, d_sae] activations. */
function denseCore({ g, o, x, p, l1, invB, gs }: CoreInputs): StepCore {
  const { dSae } = o;
  // forward
  const xc = g.sub(x, p.b_dec);
  const pre = g.add(g.matmul(xc, p.W_enc), p.b_enc);
  let f: Value;
  let mask: Value;
  let theta: Value | null = null;
  const zerosLike = (v: Value) => g.op('ConstantOfShape', [g.op('Shape', [v])], { value: { name: 'zero', dataType: DataType.FLOAT, dims: [1], raw: new Uint8Array(4) } });
  if (o.architecture === 'relu') {
    f = g.op('Relu', [pre]);
    mask = g.cast(g.op('Greater', [f, g.constF(0)]), DataType.FLOAT); // of f, not pre: the Gemm computing pre can then fuse the Relu
  } else if (o.architecture === 'jumprelu') {
    theta = g.op('Exp', [p.log_threshold]);
    mask = g.cast(g.op('Greater', [pre, theta]), DataType.FLOAT);
    f = g.mul(pre, mask);
  } else if (o.architecture === 'batchtopk') {
    if (!o.k || o.k < 1 || o.k > dSae) throw new Error(`BatchTopK SAE: k must be in 1..${dSae}`);
    // the k·B largest pre-activations of the whole batch
    const flat = g.reshape(pre, [-1]);
    const kb = g.mul(g.op('Shape', [x], { start: 0, end: 1 }), g.constI([o.k]));
    const [vals, idx] = g.node('TopK', [flat, kb], { axis: 0, largest: 1, sorted: 0 }, { outputs: 2 }) as [Value, Value];
    const zeros = zerosLike(flat);
    const active = g.op('Relu', [vals]);
    f = g.op('Reshape', [g.op('ScatterElements', [zeros, idx, active], { axis: 0 }), g.op('Shape', [pre])]);
    mask = g.op('Reshape', [g.op('ScatterElements', [zeros, idx, g.cast(g.op('Greater', [vals, g.constF(0)]), DataType.FLOAT)], { axis: 0 }), g.op('Shape', [pre])]);
    // the smallest kept activation: its running mean becomes the inference threshold
    g.output(g.hook(g.op('ReduceMin', [active], { keepdims: 0 }), 'batch_threshold'));
  } else {
    if (!o.k || o.k < 1 || o.k > dSae) throw new Error(`TopK SAE: k must be in 1..${dSae}`);
    const [vals, idx] = g.node('TopK', [pre, g.constI([o.k])], { axis: -1, largest: 1, sorted: 0 }, { outputs: 2 }) as [Value, Value];
    const zeros = zerosLike(pre);
    const active = g.op('Relu', [vals]);
    f = g.op('ScatterElements', [zeros, idx, active], { axis: 1 });
    mask = g.op('ScatterElements', [zeros, idx, g.cast(g.op('Greater', [vals, g.constF(0)]), DataType.FLOAT)], { axis: 1 });
  }
  const xhat = g.add(g.matmul(f, p.W_dec), p.b_dec);
  const err = g.sub(xhat, x);
  const sse = g.op('ReduceSum', [g.mul(err, err)], { keepdims: 0 }); // scalar
  const mse = g.mul(sse, g.op('Squeeze', [invB, g.constI([0])]));
  const norms = g.op('Sqrt', [g.op('ReduceSum', [g.mul(p.W_dec, p.W_dec), g.constI([1])], { keepdims: 1 })]); // [s, 1] (ONNX Runtime's ReduceL2 is several times slower)
  let loss = mse;
  let l1Loss: Value = g.constF(0);
  const fired = g.op('ReduceSum', [mask, g.constI([0])], { keepdims: 0 }); // [s]
  const fSum = g.op('ReduceSum', [f, g.constI([0])], { keepdims: 0 }); // [s]
  const normsRow = g.op('Squeeze', [norms, g.constI([1])]); // [s]
  if (l1 && o.architecture === 'jumprelu') {
    // L0: mean_b Σ_s H(pre - θ)
    l1Loss = g.mul(g.op('ReduceSum', [fired], { keepdims: 0 }), g.op('Squeeze', [invB, g.constI([0])]));
    loss = g.add(mse, g.mul(l1, l1Loss));
  } else if (l1) {
    // mean_b Σ_s f_bs n_s = (Σ_b f_b·) · n / B
    const weighted = g.op('ReduceSum', [g.mul(fSum, normsRow)], { keepdims: 0 });
    l1Loss = g.mul(weighted, g.op('Squeeze', [invB, g.constI([0])]));
    loss = g.add(mse, g.mul(l1, l1Loss));
  }
  const l0 = g.mul(g.op('ReduceSum', [fired], { keepdims: 0 }), g.op('Squeeze', [invB, g.constI([0])]));

  // backward (the L1 terms enter the products' C inputs)
  const gxhat = g.mul(err, g.mul(invB, g.constF(2)));
  const relu = l1 && o.architecture === 'relu';
  const coef = relu ? g.mul(l1, invB) : null; // [1]
  // g_Wdec: fᵀ·g_x̂ [+ (λ/B) (Σ_b f_bs) W_dec[s] / n_s]
  const gWdec = relu
    ? g.op('Gemm', [f, gxhat, g.mul(p.W_dec, g.div(g.mul(g.scale(coef!, gs), g.unsqueeze(fSum, [1])), norms))], { transA: 1, alpha: { float: gs }, beta: { float: 1 } })
    : g.op('Gemm', [f, gxhat], { transA: 1, alpha: { float: gs } });
  // g_f: g_x̂·W_decᵀ [+ (λ/B) n_s]
  const gf = relu ? g.op('Gemm', [gxhat, p.W_dec, g.mul(coef!, normsRow)], { transB: 1, beta: { float: 1 } }) : g.op('Gemm', [gxhat, p.W_dec], { transB: 1 });
  const gpre = g.mul(gf, mask);
  const gWenc = g.op('Gemm', [xc, gpre], { transA: 1, alpha: { float: gs } });
  const gbenc = g.scale(g.op('ReduceSum', [gpre, g.constI([0])], { keepdims: 0 }), gs);
  const gbdecEnc = gemv(g, p.W_enc, gbenc);
  const gbdec = g.sub(g.scale(g.op('ReduceSum', [gxhat, g.constI([0])], { keepdims: 0 }), gs), gbdecEnc);
  const grads = { W_enc: gWenc, b_enc: gbenc, W_dec: gWdec, b_dec: gbdec } as Record<SaeParam, Value>;
  if (theta) {
    // straight-through pseudo-derivatives with a rectangle kernel K of width ε:
    // ∂f/∂θ = -(θ/ε) K(pre - θ), ∂H/∂θ = -(1/ε) K(pre - θ); θ = exp(log θ)
    const eps = o.bandwidth ?? 0.001;
    const kernel = g.cast(g.op('Less', [g.op('Abs', [g.sub(pre, theta)]), g.constF(eps / 2)]), DataType.FLOAT);
    const fromF = g.op('ReduceSum', [g.mul(gf, kernel), g.constI([0])], { keepdims: 0 }); // Σ_b g_f K
    const fromL0 = g.mul(g.mul(l1!, invB), g.op('ReduceSum', [kernel, g.constI([0])], { keepdims: 0 }));
    const gTheta = g.scale(g.add(g.mul(theta, fromF), fromL0), -1 / eps);
    grads.log_threshold = g.scale(g.mul(gTheta, theta), gs);
  }

  return { loss, mse, l1Loss, l0, sse, fired, grads };
}

/**
 * TopK with its sparsity used where it is safe to: only the k active features
 * of a token touch the decoder, so the decoder pass and g_f are gathers over
 * B·k rows instead of dense [B, d_sae] products. The weight gradients stay
 * dense products of the scattered activations (each row's k indices are
 * distinct, so the scatter has no collisions): ONNX Runtime's multi-threaded
 * ScatterND with reduction 'add' loses updates on repeated indices.
 *
 *   Wg = W_dec[idx] [B, k, d]; x̂_b = Σ_j a_bj Wg_bj + b_dec
 *   g_a = Wg·g_x̂ ⊙ (vals > 0); f, g_pre = a, g_a scattered to [B, d_sae]
 *   g_Wdec = fᵀ·g_x̂; g_Wenc = xcᵀ·g_pre; g_benc = Σ_b g_pre
 */
function sparseTopkCore({ g, o, x, p, invB, gs }: CoreInputs): StepCore {
  const { dSae } = o;
  const k = o.k;
  if (!k || k < 1 || k > dSae) throw new Error(`TopK SAE: k must be in 1..${dSae}`);
  const xc = g.sub(x, p.b_dec);
  const pre = g.add(g.matmul(xc, p.W_enc), p.b_enc);
  const [vals, idx] = g.node('TopK', [pre, g.constI([k])], { axis: -1, largest: 1, sorted: 0 }, { outputs: 2 }) as [Value, Value];
  const a = g.op('Relu', [vals]); // [B, k]
  const on = g.cast(g.op('Greater', [vals, g.constF(0)]), DataType.FLOAT); // [B, k]
  const wg = g.op('Gather', [p.W_dec, idx], { axis: 0 }); // [B, k, d]
  const xhat = g.add(g.op('Squeeze', [g.matmul(g.unsqueeze(a, [1]), wg), g.constI([1])]), p.b_dec);
  const err = g.sub(xhat, x);
  const sse = g.op('ReduceSum', [g.mul(err, err)], { keepdims: 0 });
  const mse = g.mul(sse, g.op('Squeeze', [invB, g.constI([0])]));
  const zeros = g.op('ConstantOfShape', [g.op('Shape', [pre])], { value: { name: 'zero', dataType: DataType.FLOAT, dims: [1], raw: new Uint8Array(4) } });
  const scatter = (v: Value) => g.op('ScatterElements', [zeros, idx, v], { axis: 1 }); // [B, d_sae]
  const fired = g.op('ReduceSum', [scatter(on), g.constI([0])], { keepdims: 0 });
  const l0 = g.mul(g.op('ReduceSum', [on], { keepdims: 0 }), g.op('Squeeze', [invB, g.constI([0])]));

  const gxhat = g.mul(err, g.mul(invB, g.constF(2))); // [B, d]
  const ga = g.mul(g.op('Squeeze', [g.matmul(wg, g.unsqueeze(gxhat, [2])), g.constI([2])]), on); // [B, k]
  const gpre = scatter(ga);
  const gWdec = g.op('Gemm', [scatter(a), gxhat], { transA: 1, alpha: { float: gs } });
  const gWenc = g.op('Gemm', [xc, gpre], { transA: 1, alpha: { float: gs } });
  const gbenc = g.scale(g.op('ReduceSum', [gpre, g.constI([0])], { keepdims: 0 }), gs);
  const gbdecEnc = gemv(g, p.W_enc, gbenc);
  const gbdec = g.sub(g.scale(g.op('ReduceSum', [gxhat, g.constI([0])], { keepdims: 0 }), gs), gbdecEnc);
  const grads = { W_enc: gWenc, b_enc: gbenc, W_dec: gWdec, b_dec: gbdec } as Record<SaeParam, Value>;
  return { loss: mse, mse, l1Loss: g.constF(0), l0, sse, fired, grads };
}
