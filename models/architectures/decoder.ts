/**
 * The forward pass of a decoder-only transformer as an ONNX graph, written
 * once for every family: embeddings, blocks (attention with causal or
 * sliding-window masks, grouped-query heads, rotary or learned positions,
 * soft-capping; plain or gated MLP; sequential or parallel residual), final
 * norm and unembedding. Internal values carry TransformerLens' hook names.
 *
 * Input `input_ids` int64 [batch, pos]; outputs `logits` float32
 * [batch, pos, vocab] and any hook value asked for.
 */
import { DataType } from '../onnx/proto.ts';
import { Graph, MS_DOMAIN, type Value } from '../onnx/graph.ts';
import { float32ToF16, quantizeQ4, quantizeQ8, Q4_BLOCK, transpose, type ModelDtype } from '../quantize.ts';
import type { ArchSpec, BlockWeights, Linear, ModelWeights, Norm } from './spec.ts';

/** Lowest float32: masked scores become exactly 0 after the softmax. */
const MASKED = -3.4028234663852886e38;

/** A value that replaces a hook point's value (ablation, SAE splicing, steering). */
export type Intervention = (g: Graph, value: Value) => Value;

export interface BuildOptions {
  dtype: ModelDtype;
  /** hook name → function of the graph and the hook's value, returning the value that flows on */
  interventions?: Record<string, Intervention>;
}

/** A hook point: its name, the layer it belongs to and the shape of its value. */
export interface HookPoint {
  name: string;
  layer: number | null;
  shape: (number | string)[];
}

/** Every hook point of a spec, in the order they are computed. */
export function hookPoints(spec: ArchSpec): HookPoint[] {
  const d = spec.dModel;
  const pts: HookPoint[] = [{ name: 'hook_embed', layer: null, shape: ['batch', 'pos', d] }];
  if (spec.positions.kind === 'learned') pts.push({ name: 'hook_pos_embed', layer: null, shape: ['batch', 'pos', d] });
  for (let l = 0; l < spec.nLayers; l++) {
    const b = `blocks.${l}`;
    pts.push(
      { name: `${b}.hook_resid_pre`, layer: l, shape: ['batch', 'pos', d] },
      { name: `${b}.attn.hook_pattern`, layer: l, shape: ['batch', spec.nHeads, 'pos', 'pos'] },
      { name: `${b}.attn.hook_z`, layer: l, shape: ['batch', 'pos', spec.nHeads, spec.dHead] },
      { name: `${b}.hook_attn_out`, layer: l, shape: ['batch', 'pos', d] },
    );
    if (!spec.parallelResidual) pts.push({ name: `${b}.hook_resid_mid`, layer: l, shape: ['batch', 'pos', d] });
    pts.push(
      { name: `${b}.mlp.hook_pre`, layer: l, shape: ['batch', 'pos', spec.dMlp] },
      { name: `${b}.mlp.hook_post`, layer: l, shape: ['batch', 'pos', spec.dMlp] },
      { name: `${b}.hook_mlp_out`, layer: l, shape: ['batch', 'pos', d] },
      { name: `${b}.hook_resid_post`, layer: l, shape: ['batch', 'pos', d] },
    );
  }
  pts.push({ name: 'ln_final.hook_normalized', layer: null, shape: ['batch', 'pos', d] });
  return pts;
}

/** Weight as [out, in] row-major. */
function outIn(l: Linear): Float32Array {
  return l.layout === 'out_in' ? l.w : transpose(l.w, l.inFeatures, l.outFeatures);
}

/** Weight as [in, out] row-major (MatMul's layout). */
function inOut(l: Linear): Float32Array {
  return l.layout === 'in_out' ? l.w : transpose(l.w, l.outFeatures, l.inFeatures);
}

/** Several linear maps of the same input as one (outputs concatenated). */
function fuse(ls: Linear[]): Linear {
  if (ls.length === 1) return ls[0]!;
  const inF = ls[0]!.inFeatures;
  const outF = ls.reduce((a, l) => a + l.outFeatures, 0);
  const w = new Float32Array(outF * inF);
  let at = 0;
  for (const l of ls) {
    w.set(outIn(l), at * inF);
    at += l.outFeatures;
  }
  let b: Float32Array | undefined;
  if (ls.some((l) => l.b)) {
    b = new Float32Array(outF);
    let o = 0;
    for (const l of ls) {
      if (l.b) b.set(l.b, o);
      o += l.outFeatures;
    }
  }
  return { w, layout: 'out_in', inFeatures: inF, outFeatures: outF, b };
}

class DecoderBuilder {
  readonly g = new Graph('loupe');
  private readonly mask = new Map<number | null, Value>();
  private pos!: Value;
  private cos?: Value;
  private sin?: Value;

  constructor(
    private readonly spec: ArchSpec,
    private readonly opts: BuildOptions,
  ) {}

  private hook(value: Value, name: string): Value {
    const named = this.g.hook(value, name);
    const f = this.opts.interventions?.[name];
    return f ? f(this.g, named) : named;
  }

  /** y = x·W + b in the model's dtype. */
  linear(x: Value, l: Linear, name: string): Value {
    const g = this.g;
    const { inFeatures: inF, outFeatures: outF } = l;
    let y: Value;
    switch (this.opts.dtype) {
      case 'fp32':
        y = g.matmul(x, g.initializer(`${name}.weight`, DataType.FLOAT, [inF, outF], inOut(l)));
        break;
      case 'fp16': {
        const w = g.initializer(`${name}.weight`, DataType.FLOAT16, [inF, outF], float32ToF16(inOut(l)));
        y = g.matmul(x, g.cast(w, DataType.FLOAT));
        break;
      }
      case 'q8': {
        const { q, scale } = quantizeQ8(outIn(l), outF, inF);
        const wq = g.initializer(`${name}.weight_q8`, DataType.INT8, [inF, outF], q);
        const s = g.initializer(`${name}.weight_scale`, DataType.FLOAT, [outF], scale);
        const zp = g.initializer(`${name}.weight_zero`, DataType.INT8, [outF], new Int8Array(outF));
        y = g.matmul(x, g.op('DequantizeLinear', [wq, s, zp], { axis: 1 }));
        break;
      }
      case 'q4': {
        const { packed, scales, zeroPoints, blocks } = quantizeQ4(outIn(l), outF, inF);
        const b = g.initializer(`${name}.weight_q4`, DataType.UINT8, [outF, blocks, Q4_BLOCK / 2], packed);
        const s = g.initializer(`${name}.weight_scales`, DataType.FLOAT, [outF * blocks], scales);
        const z = g.initializer(`${name}.weight_zeros`, DataType.UINT8, [zeroPoints.length], zeroPoints);
        y = g.op('MatMulNBits', [x, b, s, z], { K: inF, N: outF, bits: 4, block_size: Q4_BLOCK }, MS_DOMAIN);
        break;
      }
    }
    return l.b ? g.add(y, g.initializer(`${name}.bias`, DataType.FLOAT, [outF], l.b)) : y;
  }

  norm(x: Value, n: Norm, name: string): Value {
    const g = this.g;
    const d = this.spec.dModel;
    const w = g.initializer(`${name}.weight`, DataType.FLOAT, [d], n.w);
    if (this.spec.norm === 'layer') {
      const b = g.initializer(`${name}.bias`, DataType.FLOAT, [d], n.b ?? new Float32Array(d));
      return g.op('LayerNormalization', [x, w, b], { axis: -1, epsilon: { float: this.spec.normEps } });
    }
    const ms = g.op('ReduceMean', [g.mul(x, x)], { axes: [-1], keepdims: 1 });
    const normed = g.div(x, g.op('Sqrt', [g.add(ms, g.constF(this.spec.normEps))]));
    const y = g.mul(normed, w);
    return n.b ? g.add(y, g.initializer(`${name}.bias`, DataType.FLOAT, [d], n.b)) : y;
  }

  act(x: Value): Value {
    const g = this.g;
    switch (this.spec.act) {
      case 'relu':
        return g.op('Relu', [x]);
      case 'silu':
        return g.mul(x, g.op('Sigmoid', [x]));
      case 'gelu': {
        const erf = g.op('Erf', [g.scale(x, Math.SQRT1_2)]);
        return g.mul(g.scale(x, 0.5), g.add(erf, g.constF(1)));
      }
      case 'gelu_tanh': {
        const cube = g.mul(g.mul(x, x), x);
        const inner = g.scale(g.add(x, g.scale(cube, 0.044715)), Math.sqrt(2 / Math.PI));
        return g.mul(g.scale(x, 0.5), g.add(g.op('Tanh', [inner]), g.constF(1)));
      }
    }
  }

  softcap(x: Value, c: number | null): Value {
    if (c === null) return x;
    return this.g.scale(this.g.op('Tanh', [this.g.scale(x, 1 / c)]), c);
  }

  /** Positions 0..T-1 (int64 [T]) from the ids' shape, once. */
  private positions(ids: Value): void {
    const g = this.g;
    const t = g.op('Squeeze', [g.op('Shape', [ids], { start: 1, end: 2 }), g.constI([0])]);
    this.pos = g.op('Range', [g.constI(0), t, g.constI(1)]);
  }

  /** Boolean [T, T] mask of allowed (query, key) pairs, one per window size. */
  private maskFor(window: number | null): Value {
    let m = this.mask.get(window);
    if (m) return m;
    const g = this.g;
    const diff = this.mask.get(-1) ?? g.sub(g.unsqueeze(this.pos, [1]), g.unsqueeze(this.pos, [0]));
    this.mask.set(-1, diff);
    m = g.op('GreaterOrEqual', [diff, g.constI(0)]);
    if (window !== null) m = g.op('And', [m, g.op('Less', [diff, g.constI(window)])]);
    this.mask.set(window, m);
    return m;
  }

  /**
   * cos and sin [T, 1, rotaryDim] for [batch, pos, heads, dHead] values,
   * gathered from tables [contextLength, rotaryDim / 2] computed here in
   * float64: a GPU's Cos and Sin are approximate, and worse at large
   * positions, so the graph computes no angle itself.
   */
  private rotary(invFreq: Float64Array): void {
    const g = this.g;
    const n = this.spec.contextLength;
    const h = invFreq.length;
    const cos = new Float32Array(n * h);
    const sin = new Float32Array(n * h);
    for (let p = 0; p < n; p++) {
      for (let i = 0; i < h; i++) {
        const a = p * invFreq[i]!;
        cos[p * h + i] = Math.cos(a);
        sin[p * h + i] = Math.sin(a);
      }
    }
    const at = (table: Float32Array, name: string) => {
      const rows = g.op('Gather', [g.initializer(name, DataType.FLOAT, [n, h], table), this.pos], { axis: 0 }); // [T, h]
      return g.unsqueeze(g.concat([rows, rows], -1), [1]);
    };
    this.cos = at(cos, 'rope.cos');
    this.sin = at(sin, 'rope.sin');
  }

  /** Rotate-half rotary embedding of the first rotaryDim dims of each head. */
  private rope(x: Value): Value {
    if (this.spec.positions.kind !== 'rope') return x;
    const g = this.g;
    const rot = this.spec.positions.rope.rotaryDim;
    const dh = this.spec.dHead;
    const xr = rot === dh ? x : g.slice(x, 3, 0, rot);
    const x1 = g.slice(xr, 3, 0, rot / 2);
    const x2 = g.slice(xr, 3, rot / 2, rot);
    const rotated = g.concat([g.op('Neg', [x2]), x1], 3);
    const out = g.add(g.mul(xr, this.cos!), g.mul(rotated, this.sin!));
    return rot === dh ? out : g.concat([out, g.slice(x, 3, rot, dh)], 3);
  }

  attention(h: Value, bw: BlockWeights, l: number): Value {
    const g = this.g;
    const { nHeads: H, nKvHeads: KV, dHead: dh } = this.spec;
    const G = H / KV;
    const p = `blocks.${l}.attn`;
    const qkv = this.linear(h, fuse([bw.q, bw.k, bw.v]), `${p}.qkv`);
    const [q0, k0, v0] = g.node('Split', [qkv, g.constI([H * dh, KV * dh, KV * dh])], { axis: -1 }, { outputs: 3 }) as [Value, Value, Value];
    const q = this.rope(g.reshape(q0, [0, 0, H, dh]));
    const k = this.rope(g.reshape(k0, [0, 0, KV, dh]));
    const v = g.transpose(g.reshape(v0, [0, 0, KV, dh]), [0, 2, 1, 3]); // [B, KV, T, dh]
    let qh = g.transpose(q, [0, 2, 1, 3]); // [B, H, T, dh]
    const kt = g.transpose(k, [0, 2, 3, 1]); // [B, KV, dh, T]
    if (G > 1) qh = g.reshape(qh, [0, KV, -1, dh]); // query heads grouped by their kv head
    let scores = g.matmul(qh, kt);
    if (G > 1) scores = g.reshape(scores, [0, H, -1, 0]);
    scores = this.softcap(g.scale(scores, this.spec.attnScale), this.spec.attnSoftcap);
    scores = g.op('Where', [this.maskFor(this.spec.windows[l] ?? null), scores, g.constF(MASKED)]);
    let pattern = this.hook(g.op('Softmax', [scores], { axis: -1 }), `${p}.hook_pattern`);
    if (G > 1) pattern = g.reshape(pattern, [0, KV, -1, 0]);
    let z = g.matmul(pattern, v);
    if (G > 1) z = g.reshape(z, [0, H, -1, dh]);
    z = this.hook(g.transpose(z, [0, 2, 1, 3]), `${p}.hook_z`); // [B, T, H, dh]
    let out = this.linear(g.reshape(z, [0, 0, H * dh]), bw.o, `${p}.o`);
    if (bw.postAttnNorm) out = this.norm(out, bw.postAttnNorm, `blocks.${l}.ln1_post`);
    return this.hook(out, `blocks.${l}.hook_attn_out`);
  }

  mlp(h: Value, bw: BlockWeights, l: number): Value {
    const g = this.g;
    const p = `blocks.${l}.mlp`;
    let post: Value;
    if (bw.gate) {
      const gu = this.linear(h, fuse([bw.gate, bw.up]), `${p}.gate_up`);
      const [gate, up] = g.node('Split', [gu, g.constI([this.spec.dMlp, this.spec.dMlp])], { axis: -1 }, { outputs: 2 }) as [Value, Value];
      const pre = this.hook(gate, `${p}.hook_pre`);
      post = this.hook(g.mul(this.act(pre), up), `${p}.hook_post`);
    } else {
      const pre = this.hook(this.linear(h, bw.up, `${p}.up`), `${p}.hook_pre`);
      post = this.hook(this.act(pre), `${p}.hook_post`);
    }
    let out = this.linear(post, bw.down, `${p}.down`);
    if (bw.postMlpNorm) out = this.norm(out, bw.postMlpNorm, `blocks.${l}.ln2_post`);
    return this.hook(out, `blocks.${l}.hook_mlp_out`);
  }

  build(w: ModelWeights): Graph {
    const g = this.g;
    const s = this.spec;
    const ids = g.input('input_ids', DataType.INT64, ['batch', 'pos']);
    this.positions(ids);
    if (s.positions.kind === 'rope') this.rotary(s.positions.rope.invFreq);

    // The embedding is stored transposed ([dModel, vocab]) so that a tied
    // unembedding is a plain MatMul; lookups gather along axis 1.
    const embT = transpose(w.embed, s.vocabSize, s.dModel);
    const table =
      this.opts.dtype === 'fp32'
        ? g.initializer('embed.W_E_T', DataType.FLOAT, [s.dModel, s.vocabSize], embT)
        : g.initializer('embed.W_E_T_f16', DataType.FLOAT16, [s.dModel, s.vocabSize], float32ToF16(embT));
    let e = g.transpose(g.op('Gather', [table, ids], { axis: 1 }), [1, 2, 0]);
    if (this.opts.dtype !== 'fp32') e = g.cast(e, DataType.FLOAT);
    let x = this.hook(g.scale(e, s.embedScale), 'hook_embed');
    if (s.positions.kind === 'learned') {
      const rows = w.posEmbed!.length / s.dModel;
      const table = g.initializer('pos_embed.W_pos', DataType.FLOAT, [rows, s.dModel], w.posEmbed!);
      const idx = s.positions.offset ? g.add(this.pos, g.constI(s.positions.offset)) : this.pos;
      const pe = this.hook(g.unsqueeze(g.op('Gather', [table, idx], { axis: 0 }), [0]), 'hook_pos_embed');
      x = g.add(x, pe);
    }

    for (let l = 0; l < s.nLayers; l++) {
      const bw = w.blocks[l]!;
      x = this.hook(x, `blocks.${l}.hook_resid_pre`);
      const attn = this.attention(this.norm(x, bw.ln1, `blocks.${l}.ln1`), bw, l);
      if (s.parallelResidual) {
        const mlp = this.mlp(this.norm(x, bw.ln2 ?? bw.ln1, `blocks.${l}.ln2`), bw, l);
        x = g.add(g.add(x, attn), mlp);
      } else {
        x = this.hook(g.add(x, attn), `blocks.${l}.hook_resid_mid`);
        x = g.add(x, this.mlp(this.norm(x, bw.ln2!, `blocks.${l}.ln2`), bw, l));
      }
      x = this.hook(x, `blocks.${l}.hook_resid_post`);
    }
    if (w.finalNorm) x = this.norm(x, w.finalNorm, 'ln_final');
    x = this.hook(x, 'ln_final.hook_normalized');
    const unembed: Linear = w.unembed ?? { w: embT, layout: 'in_out', inFeatures: s.dModel, outFeatures: s.vocabSize };
    let logits: Value;
    if (!w.unembed && this.opts.dtype === 'fp32') logits = g.matmul(x, table);
    else if (!w.unembed && this.opts.dtype === 'fp16') logits = g.matmul(x, g.cast(table, DataType.FLOAT));
    else logits = this.linear(x, unembed, 'unembed');
    const out = g.hook(this.softcap(logits, s.finalSoftcap), 'logits');
    // next-token loss at every position but the last: -log softmax(logits)[t][ids[t+1]]
    const logp = g.op('LogSoftmax', [g.slice(out, 1, 0, -1)], { axis: -1 });
    const next = g.unsqueeze(g.slice(ids, 1, 1, 2 ** 62), [2]);
    g.hook(g.op('Neg', [g.op('Squeeze', [g.op('GatherElements', [logp, next], { axis: 2 }), g.constI([2])])]), 'token_nll');
    return g;
  }
}

/** Builds the full graph; choose outputs with {@link Graph.toModel}. */
export function buildDecoder(spec: ArchSpec, weights: ModelWeights, opts: BuildOptions): Graph {
  if (spec.nHeads % spec.nKvHeads !== 0) throw new Error(`${spec.modelType}: ${spec.nHeads} heads are not a multiple of ${spec.nKvHeads} key/value heads`);
  return new DecoderBuilder(spec, opts).build(weights);
}
