/**
 * Llama and its close relatives (model_type llama, mistral, qwen2; SmolLM is
 * llama): RMSNorm, rotary positions, grouped-query attention (q/k/v biases
 * for Qwen2), SwiGLU MLP, optional sliding windows.
 */
import { type Activation, type ArchSpec, type BlockWeights, type Family, type HeadWeights, type ModelWeights, type Norm, num, optNum, ropeFromConfig, SPEC_DEFAULTS } from './spec.ts';
import { readLinear, readNorm, readUnembed, type WeightSource } from './weights.ts';

/** hidden_act / hidden_activation of config.json → our activation names. */
export function activationOf(config: Record<string, unknown>, fallback: string): Activation {
  const a = String(config.hidden_act ?? config.hidden_activation ?? config.activation_function ?? fallback);
  if (a === 'silu' || a === 'swish') return 'silu';
  if (a === 'relu') return 'relu';
  if (a === 'gelu') return 'gelu';
  if (a === 'gelu_new' || a === 'gelu_pytorch_tanh' || a === 'gelu_fast') return 'gelu_tanh';
  throw new Error(`activation "${a}" is not supported (model_type ${String(config.model_type)})`);
}

/** Per-layer sliding windows from layer_types / sliding_window / use_sliding_window. */
export function windowsOf(config: Record<string, unknown>, nLayers: number): (number | null)[] {
  const window = optNum(config, 'sliding_window');
  const types = config.layer_types;
  if (Array.isArray(types)) return types.map((t) => (t === 'sliding_attention' && window !== null ? window : null));
  const on = window !== null && (config.use_sliding_window ?? true) !== false;
  return Array.from({ length: nLayers }, () => (on ? window : null));
}

/** The config fields every Llama-like model shares. */
export function llamaLikeSpec(config: Record<string, unknown>, modelType: string): ArchSpec {
  const d = num(config, 'hidden_size');
  const h = num(config, 'num_attention_heads');
  const dHead = optNum(config, 'head_dim') ?? d / h;
  const nLayers = num(config, 'num_hidden_layers');
  return {
    ...SPEC_DEFAULTS,
    modelType,
    nLayers,
    dModel: d,
    nHeads: h,
    nKvHeads: optNum(config, 'num_key_value_heads') ?? h,
    dHead,
    dMlp: num(config, 'intermediate_size'),
    vocabSize: num(config, 'vocab_size'),
    contextLength: num(config, 'max_position_embeddings'),
    norm: 'rms',
    normEps: optNum(config, 'rms_norm_eps') ?? 1e-6,
    positions: { kind: 'rope', rope: ropeFromConfig(config, dHead) },
    attnScale: 1 / Math.sqrt(dHead),
    windows: windowsOf(config, nLayers),
    mlp: 'gated',
    act: activationOf(config, 'silu'),
  };
}

/** The projections of a Llama-style block `p` (self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj). */
export async function readLlamaProjections(src: WeightSource, s: ArchSpec, p: string) {
  const d = s.dModel;
  return {
    q: await readLinear(src, `${p}.self_attn.q_proj`, s.nHeads * s.dHead, d),
    k: await readLinear(src, `${p}.self_attn.k_proj`, s.nKvHeads * s.dHead, d),
    v: await readLinear(src, `${p}.self_attn.v_proj`, s.nKvHeads * s.dHead, d),
    o: await readLinear(src, `${p}.self_attn.o_proj`, d, s.nHeads * s.dHead),
    gate: await readLinear(src, `${p}.mlp.gate_proj`, s.dMlp, d),
    up: await readLinear(src, `${p}.mlp.up_proj`, s.dMlp, d),
    down: await readLinear(src, `${p}.mlp.down_proj`, d, s.dMlp),
  };
}

/** Embedding, blocks (norms by `blockNorms`), final norm and unembedding of a Llama-style checkpoint. */
export async function loadLlamaLike(src: WeightSource, s: ArchSpec, config: Record<string, unknown>, norm: (name: string) => Promise<Norm>, blockNorms: (p: string) => Promise<Pick<BlockWeights, 'ln1' | 'ln2' | 'postAttnNorm' | 'postMlpNorm'>>): Promise<ModelWeights> {
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `model.layers.${l}`;
    blocks.push({ ...(await blockNorms(p)), ...(await readLlamaProjections(src, s, p)) });
  }
  return { ...(await headLlamaLike(src, s, config, norm)), blocks };
}

/** Embedding, final norm and unembedding of a Llama-style checkpoint. */
export async function headLlamaLike(src: WeightSource, s: ArchSpec, config: Record<string, unknown>, norm: (name: string) => Promise<Norm>): Promise<HeadWeights> {
  const embed = await src.get('model.embed_tokens.weight', [s.vocabSize, s.dModel]);
  const unembed = await readUnembed(src, 'lm_head', embed, s.vocabSize, s.dModel, config.tie_word_embeddings !== false);
  return { embed, finalNorm: await norm('model.norm'), unembed };
}

function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const norm = (name: string) => readNorm(src, name, s.dModel);
  return loadLlamaLike(src, s, config, norm, async (p) => ({ ln1: await norm(`${p}.input_layernorm`), ln2: await norm(`${p}.post_attention_layernorm`) }));
}

export const llama: Family = {
  modelTypes: ['llama', 'mistral', 'qwen2'],
  spec: (config) => llamaLikeSpec(config, String(config.model_type)),
  load,
  head: (src, s, config) => headLlamaLike(src, s, config, (name) => readNorm(src, name, s.dModel)),
};
