/**
 * GPT-2 (model_type gpt2): learned positions, pre-LayerNorm, Conv1D weights
 * stored [in, out], fused c_attn = [q | k | v], gelu_new MLP, tied unembedding.
 */
import { type ArchSpec, type Family, type HeadWeights, type Linear, num, optNum, SPEC_DEFAULTS } from './spec.ts';
import type { WeightSource } from './weights.ts';

function spec(config: Record<string, unknown>): ArchSpec {
  const d = num(config, 'n_embd', 'hidden_size');
  const h = num(config, 'n_head', 'num_attention_heads');
  const nLayers = num(config, 'n_layer', 'num_hidden_layers');
  const act = String(config.activation_function ?? 'gelu_new');
  if (config.scale_attn_by_inverse_layer_idx === true || config.reorder_and_upcast_attn === true) {
    throw new Error('gpt2: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported');
  }
  return {
    ...SPEC_DEFAULTS,
    modelType: 'gpt2',
    nLayers,
    dModel: d,
    nHeads: h,
    nKvHeads: h,
    dHead: d / h,
    dMlp: optNum(config, 'n_inner') ?? 4 * d,
    vocabSize: num(config, 'vocab_size'),
    contextLength: num(config, 'n_positions', 'n_ctx'),
    norm: 'layer',
    normEps: optNum(config, 'layer_norm_epsilon') ?? 1e-5,
    positions: { kind: 'learned', offset: 0 },
    attnScale: config.scale_attn_weights === false ? 1 : 1 / Math.sqrt(d / h),
    windows: Array.from({ length: nLayers }, () => null),
    mlp: 'plain',
    act: act === 'relu' ? 'relu' : act === 'gelu' ? 'gelu' : 'gelu_tanh',
  };
}

/** Splits a Conv1D [in, n·out] weight (and bias) along its output axis. */
export async function splitConv1D(src: WeightSource, prefix: string, inF: number, parts: number[]): Promise<Linear[]> {
  const total = parts.reduce((a, b) => a + b, 0);
  const w = await src.get(`${prefix}.weight`, [inF, total]);
  const b = src.has(`${prefix}.bias`) ? await src.get(`${prefix}.bias`, [total]) : undefined;
  const out: Linear[] = [];
  let at = 0;
  // rows of the data: inF, or 0 when a shape-only source hands empty arrays (models/model-check.ts)
  const rows = w.length / total;
  for (const n of parts) {
    const part = new Float32Array(rows * n);
    for (let i = 0; i < rows; i++) part.set(w.subarray(i * total + at, i * total + at + n), i * n);
    out.push({ w: part, layout: 'in_out', inFeatures: inF, outFeatures: n, b: b?.slice(at, at + n) });
    at += n;
  }
  return out;
}

const prefix = (src: WeightSource) => (src.has('transformer.wte.weight') ? 'transformer.' : '');
const readGpt2Norm = async (src: WeightSource, name: string, d: number) => ({ w: await src.get(`${name}.weight`, [d]), b: await src.get(`${name}.bias`, [d]) });

async function head(src: WeightSource, s: ArchSpec): Promise<HeadWeights> {
  const p = prefix(src);
  const d = s.dModel;
  const embed = await src.get(`${p}wte.weight`, [s.vocabSize, d]);
  let unembed: Linear | null = null;
  if (src.has('lm_head.weight')) {
    const w = await src.get('lm_head.weight', [s.vocabSize, d]);
    // a separate lm_head equal to wte is still tied; keep one copy
    if (w.some((x, i) => x !== embed[i])) unembed = { w, layout: 'out_in', inFeatures: d, outFeatures: s.vocabSize };
  }
  return { embed, finalNorm: await readGpt2Norm(src, `${p}ln_f`, d), unembed };
}

async function load(src: WeightSource, s: ArchSpec) {
  const p = prefix(src);
  const d = s.dModel;
  const norm = (name: string) => readGpt2Norm(src, name, d);
  const blocks = [];
  for (let l = 0; l < s.nLayers; l++) {
    const b = `${p}h.${l}`;
    const [q, k, v] = (await splitConv1D(src, `${b}.attn.c_attn`, d, [d, d, d])) as [Linear, Linear, Linear];
    const [o] = (await splitConv1D(src, `${b}.attn.c_proj`, d, [d])) as [Linear];
    const [up] = (await splitConv1D(src, `${b}.mlp.c_fc`, d, [s.dMlp])) as [Linear];
    const [down] = (await splitConv1D(src, `${b}.mlp.c_proj`, s.dMlp, [d])) as [Linear];
    blocks.push({ ln1: await norm(`${b}.ln_1`), ln2: await norm(`${b}.ln_2`), q, k, v, o, up, down });
  }
  const posEmbed = await src.get(`${p}wpe.weight`, [s.contextLength, d]);
  return { ...(await head(src, s)), posEmbed, blocks };
}

export const gpt2: Family = { modelTypes: ['gpt2'], spec, load, head };
