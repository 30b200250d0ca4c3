/**
 * GPT-NeoX / Pythia (model_type gpt_neox): LayerNorm, partial rotary
 * embeddings, a fused query_key_value laid out per head ([q | k | v] for each
 * head), parallel residual (x + attn(ln1 x) + mlp(ln2 x)) and a separate
 * embed_out unless tied.
 */
import { activationOf } from './llama.ts';
import { type ArchSpec, type Family, type HeadWeights, type Linear, num, optNum, ropeFromConfig, SPEC_DEFAULTS } from './spec.ts';
import { readLinear, readNorm, readUnembed, type WeightSource } from './weights.ts';

function spec(config: Record<string, unknown>): ArchSpec {
  const d = num(config, 'hidden_size');
  const h = num(config, 'num_attention_heads');
  const nLayers = num(config, 'num_hidden_layers');
  const dHead = d / h;
  return {
    ...SPEC_DEFAULTS,
    modelType: 'gpt_neox',
    nLayers,
    dModel: d,
    nHeads: h,
    nKvHeads: h,
    dHead,
    dMlp: num(config, 'intermediate_size'),
    vocabSize: num(config, 'vocab_size'),
    contextLength: num(config, 'max_position_embeddings'),
    norm: 'layer',
    normEps: optNum(config, 'layer_norm_eps') ?? 1e-5,
    positions: { kind: 'rope', rope: ropeFromConfig(config, dHead) },
    attnScale: 1 / Math.sqrt(dHead),
    windows: Array.from({ length: nLayers }, () => null),
    mlp: 'plain',
    act: activationOf(config, 'gelu'),
    parallelResidual: config.use_parallel_residual !== false,
  };
}

/** Splits the per-head interleaved query_key_value into q, k and v. */
function splitPerHead(qkv: Linear, heads: number, dHead: number): [Linear, Linear, Linear] {
  const inF = qkv.inFeatures;
  // empty when a shape-only source hands empty arrays (models/model-check.ts): nothing to split
  const empty = qkv.w.length === 0;
  const parts = [0, 1, 2].map(() => ({ w: new Float32Array(empty ? 0 : heads * dHead * inF), b: qkv.b ? new Float32Array(empty ? 0 : heads * dHead) : undefined }));
  for (let h = 0; h < (empty ? 0 : heads); h++) {
    for (let part = 0; part < 3; part++) {
      const srcRow = h * 3 * dHead + part * dHead;
      const dstRow = h * dHead;
      parts[part]!.w.set(qkv.w.subarray(srcRow * inF, (srcRow + dHead) * inF), dstRow * inF);
      parts[part]!.b?.set(qkv.b!.subarray(srcRow, srcRow + dHead), dstRow);
    }
  }
  return parts.map((p) => ({ w: p.w, b: p.b, layout: 'out_in' as const, inFeatures: inF, outFeatures: heads * dHead })) as [Linear, Linear, Linear];
}

async function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const d = s.dModel;
  const blocks = [];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `gpt_neox.layers.${l}`;
    const [q, k, v] = splitPerHead(await readLinear(src, `${p}.attention.query_key_value`, 3 * d, d), s.nHeads, s.dHead);
    blocks.push({
      ln1: await readNorm(src, `${p}.input_layernorm`, d),
      ln2: await readNorm(src, `${p}.post_attention_layernorm`, d),
      q,
      k,
      v,
      o: await readLinear(src, `${p}.attention.dense`, d, d),
      up: await readLinear(src, `${p}.mlp.dense_h_to_4h`, s.dMlp, d),
      down: await readLinear(src, `${p}.mlp.dense_4h_to_h`, d, s.dMlp),
    });
  }
  return { ...(await head(src, s, config)), blocks };
}

async function head(src: WeightSource, s: ArchSpec, config: Record<string, unknown>): Promise<HeadWeights> {
  const embed = await src.get('gpt_neox.embed_in.weight', [s.vocabSize, s.dModel]);
  const unembed = await readUnembed(src, 'embed_out', embed, s.vocabSize, s.dModel, config.tie_word_embeddings === true);
  return { embed, finalNorm: await readNorm(src, 'gpt_neox.final_layer_norm', s.dModel), unembed };
}

export const gptNeox: Family = { modelTypes: ['gpt_neox'], spec, load, head };
