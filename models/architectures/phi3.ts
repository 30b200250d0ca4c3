/**
 * Phi-3 (model_type phi3): Llama-like with a fused qkv_proj
 * ([q | k | v] along the output axis), a fused gate_up_proj ([gate | up])
 * and partial rotary embeddings.
 */
import { llamaLikeSpec } from './llama.ts';
import type { ArchSpec, Family, HeadWeights } from './spec.ts';
import { linearRows, readLinear, readNorm, readUnembed, type WeightSource } from './weights.ts';

async function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const d = s.dModel;
  const qd = s.nHeads * s.dHead;
  const kvd = s.nKvHeads * s.dHead;
  const blocks = [];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `model.layers.${l}`;
    const qkv = await readLinear(src, `${p}.self_attn.qkv_proj`, qd + 2 * kvd, d);
    const gateUp = await readLinear(src, `${p}.mlp.gate_up_proj`, 2 * s.dMlp, d);
    blocks.push({
      ln1: await readNorm(src, `${p}.input_layernorm`, d),
      ln2: await readNorm(src, `${p}.post_attention_layernorm`, d),
      q: linearRows(qkv, 0, qd),
      k: linearRows(qkv, qd, kvd),
      v: linearRows(qkv, qd + kvd, kvd),
      o: await readLinear(src, `${p}.self_attn.o_proj`, d, qd),
      gate: linearRows(gateUp, 0, s.dMlp),
      up: linearRows(gateUp, s.dMlp, s.dMlp),
      down: await readLinear(src, `${p}.mlp.down_proj`, d, s.dMlp),
    });
  }
  return { ...(await head(src, s, config)), blocks };
}

async function head(src: WeightSource, s: ArchSpec, config: Record<string, unknown>): Promise<HeadWeights> {
  const embed = await src.get('model.embed_tokens.weight', [s.vocabSize, s.dModel]);
  const unembed = await readUnembed(src, 'lm_head', embed, s.vocabSize, s.dModel, config.tie_word_embeddings === true);
  return { embed, finalNorm: await readNorm(src, 'model.norm', s.dModel), unembed };
}

export const phi3: Family = { modelTypes: ['phi3'], spec: (config) => llamaLikeSpec(config, 'phi3'), load, head };
