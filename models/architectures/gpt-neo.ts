/**
 * GPT-Neo (model_type gpt_neo): GPT-2-like with torch.nn.Linear weights,
 * unscaled attention scores, no q/k/v biases, and layers alternating global
 * and local (sliding window) attention.
 */
import { activationOf } from './llama.ts';
import { type ArchSpec, type Family, type HeadWeights, num, optNum, SPEC_DEFAULTS } from './spec.ts';
import { readLinear, readNorm, readUnembed, type WeightSource } from './weights.ts';

function spec(config: Record<string, unknown>): ArchSpec {
  const d = num(config, 'hidden_size');
  const h = num(config, 'num_heads');
  const nLayers = num(config, 'num_layers');
  const layers = config.attention_layers;
  if (!Array.isArray(layers) || layers.length !== nLayers) throw new Error('gpt_neo: config.json "attention_layers" must list global/local for every layer');
  const window = num(config, 'window_size');
  return {
    ...SPEC_DEFAULTS,
    modelType: 'gpt_neo',
    nLayers,
    dModel: d,
    nHeads: h,
    nKvHeads: h,
    dHead: d / h,
    dMlp: optNum(config, 'intermediate_size') ?? 4 * d,
    vocabSize: num(config, 'vocab_size'),
    contextLength: num(config, 'max_position_embeddings'),
    norm: 'layer',
    normEps: optNum(config, 'layer_norm_epsilon') ?? 1e-5,
    positions: { kind: 'learned', offset: 0 },
    attnScale: 1,
    windows: layers.map((t) => (t === 'local' ? window : null)),
    mlp: 'plain',
    act: activationOf(config, 'gelu_new'),
  };
}

async function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const d = s.dModel;
  const blocks = [];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `transformer.h.${l}`;
    blocks.push({
      ln1: await readNorm(src, `${p}.ln_1`, d),
      ln2: await readNorm(src, `${p}.ln_2`, d),
      q: await readLinear(src, `${p}.attn.attention.q_proj`, d, d),
      k: await readLinear(src, `${p}.attn.attention.k_proj`, d, d),
      v: await readLinear(src, `${p}.attn.attention.v_proj`, d, d),
      o: await readLinear(src, `${p}.attn.attention.out_proj`, d, d),
      up: await readLinear(src, `${p}.mlp.c_fc`, s.dMlp, d),
      down: await readLinear(src, `${p}.mlp.c_proj`, d, s.dMlp),
    });
  }
  const posEmbed = await src.get('transformer.wpe.weight', [s.contextLength, d]);
  return { ...(await head(src, s, config)), posEmbed, blocks };
}

async function head(src: WeightSource, s: ArchSpec, config: Record<string, unknown>): Promise<HeadWeights> {
  const embed = await src.get('transformer.wte.weight', [s.vocabSize, s.dModel]);
  const unembed = await readUnembed(src, 'lm_head', embed, s.vocabSize, s.dModel, config.tie_word_embeddings !== false);
  return { embed, finalNorm: await readNorm(src, 'transformer.ln_f', s.dModel), unembed };
}

export const gptNeo: Family = { modelTypes: ['gpt_neo'], spec, load, head };
