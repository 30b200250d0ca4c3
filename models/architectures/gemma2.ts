/**
 * Gemma 2 (model_type gemma2): Llama-like with embeddings × sqrt(d), (1 + w)
 * RMSNorm gains, four norms per block (the attention and MLP outputs are
 * normed before their residual adds), an explicit head_dim, scores scaled by
 * query_pre_attn_scalar^-1/2 and soft-capped, alternating sliding windows,
 * GeGLU (tanh GELU) MLP and soft-capped logits.
 */
import { llamaLikeSpec } from './llama.ts';
import { num, optNum, type ArchSpec, type Family } from './spec.ts';
import { readLinear, readNorm, readUnembed, type WeightSource } from './weights.ts';

function spec(config: Record<string, unknown>): ArchSpec {
  const base = llamaLikeSpec(config, 'gemma2');
  return {
    ...base,
    attnScale: 1 / Math.sqrt(num(config, 'query_pre_attn_scalar')),
    attnSoftcap: optNum(config, 'attn_logit_softcapping'),
    finalSoftcap: optNum(config, 'final_logit_softcapping'),
    embedScale: Math.fround(Math.sqrt(base.dModel)),
    act: base.act,
  };
}

async function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const d = s.dModel;
  const norm = (name: string) => readNorm(src, name, d, { plusOne: true });
  const blocks = [];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `model.layers.${l}`;
    blocks.push({
      ln1: await norm(`${p}.input_layernorm`),
      postAttnNorm: await norm(`${p}.post_attention_layernorm`),
      ln2: await norm(`${p}.pre_feedforward_layernorm`),
      postMlpNorm: await norm(`${p}.post_feedforward_layernorm`),
      q: await readLinear(src, `${p}.self_attn.q_proj`, s.nHeads * s.dHead, d),
      k: await readLinear(src, `${p}.self_attn.k_proj`, s.nKvHeads * s.dHead, d),
      v: await readLinear(src, `${p}.self_attn.v_proj`, s.nKvHeads * s.dHead, d),
      o: await readLinear(src, `${p}.self_attn.o_proj`, d, s.nHeads * s.dHead),
      gate: await readLinear(src, `${p}.mlp.gate_proj`, s.dMlp, d),
      up: await readLinear(src, `${p}.mlp.up_proj`, s.dMlp, d),
      down: await readLinear(src, `${p}.mlp.down_proj`, d, s.dMlp),
    });
  }
  const embed = await src.get('model.embed_tokens.weight', [s.vocabSize, d]);
  const unembed = await readUnembed(src, 'lm_head', embed, s.vocabSize, d, config.tie_word_embeddings !== false);
  return { embed, blocks, finalNorm: await norm('model.norm'), unembed };
}

export const gemma2: Family = { modelTypes: ['gemma2'], spec, load };
