/**
 * OPT (model_type opt): learned positions offset by 2, pre-LayerNorm blocks,
 * biases everywhere, ReLU MLP, tied unembedding. Post-LayerNorm variants
 * (do_layer_norm_before false, OPT-350m) and a projected embedding
 * (word_embed_proj_dim ≠ hidden_size) are refused.
 */
import { activationOf } from './llama.ts';
import { type ArchSpec, type Family, type HeadWeights, num, SPEC_DEFAULTS } from './spec.ts';
import { readLinear, readNorm, readUnembed, type WeightSource } from './weights.ts';

function spec(config: Record<string, unknown>): ArchSpec {
  const d = num(config, 'hidden_size');
  const h = num(config, 'num_attention_heads');
  const nLayers = num(config, 'num_hidden_layers');
  if (config.do_layer_norm_before === false) throw new Error('opt: post-LayerNorm models (do_layer_norm_before false, e.g. OPT-350m) are not supported');
  const proj = config.word_embed_proj_dim;
  if (typeof proj === 'number' && proj !== d) throw new Error(`opt: word_embed_proj_dim ${proj} ≠ hidden_size ${d} (projected embeddings) is not supported`);
  return {
    ...SPEC_DEFAULTS,
    modelType: 'opt',
    nLayers,
    dModel: d,
    nHeads: h,
    nKvHeads: h,
    dHead: d / h,
    dMlp: num(config, 'ffn_dim'),
    vocabSize: num(config, 'vocab_size'),
    contextLength: num(config, 'max_position_embeddings'),
    norm: 'layer',
    normEps: 1e-5,
    positions: { kind: 'learned', offset: 2 },
    attnScale: 1 / Math.sqrt(d / h),
    windows: Array.from({ length: nLayers }, () => null),
    mlp: 'plain',
    act: activationOf(config, 'relu'),
  };
}

async function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const d = s.dModel;
  const blocks = [];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `model.decoder.layers.${l}`;
    blocks.push({
      ln1: await readNorm(src, `${p}.self_attn_layer_norm`, d),
      ln2: await readNorm(src, `${p}.final_layer_norm`, d),
      q: await readLinear(src, `${p}.self_attn.q_proj`, d, d),
      k: await readLinear(src, `${p}.self_attn.k_proj`, d, d),
      v: await readLinear(src, `${p}.self_attn.v_proj`, d, d),
      o: await readLinear(src, `${p}.self_attn.out_proj`, d, d),
      up: await readLinear(src, `${p}.fc1`, s.dMlp, d),
      down: await readLinear(src, `${p}.fc2`, d, s.dMlp),
    });
  }
  const posEmbed = await src.get('model.decoder.embed_positions.weight', [s.contextLength + 2, d]);
  return { ...(await head(src, s, config)), posEmbed, blocks };
}

async function head(src: WeightSource, s: ArchSpec, config: Record<string, unknown>): Promise<HeadWeights> {
  const embed = await src.get('model.decoder.embed_tokens.weight', [s.vocabSize, s.dModel]);
  const unembed = await readUnembed(src, 'lm_head', embed, s.vocabSize, s.dModel, config.tie_word_embeddings !== false);
  const finalNorm = config._remove_final_layer_norm === true ? null : await readNorm(src, 'model.decoder.final_layer_norm', s.dModel);
  return { embed, finalNorm, unembed };
}

export const opt: Family = { modelTypes: ['opt'], spec, load, head };
