/**
 * Gemma 2 (model_type gemma2): Llama-like with embeddings × sqrt(d), (1 + w)
 * RMSNorm gains, four norms per block (the attention and MLP outputs are
 * normed before their residual adds), an explicit head_dim, scores scaled by
 * query_pre_attn_scalar^-1/2 and soft-capped, alternating sliding windows,
 * GeGLU (tanh GELU) MLP and soft-capped logits.
 */
import { headLlamaLike, llamaLikeSpec, loadLlamaLike } from './llama.ts';
import { num, optNum, type ArchSpec, type Family } from './spec.ts';
import { readNorm, type WeightSource } from './weights.ts';

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

function load(src: WeightSource, s: ArchSpec, config: Record<string, unknown>) {
  const norm = (name: string) => readNorm(src, name, s.dModel, { plusOne: true });
  return loadLlamaLike(src, s, config, norm, async (p) => ({
    ln1: await norm(`${p}.input_layernorm`),
    postAttnNorm: await norm(`${p}.post_attention_layernorm`),
    ln2: await norm(`${p}.pre_feedforward_layernorm`),
    postMlpNorm: await norm(`${p}.post_feedforward_layernorm`),
  }));
}

export const gemma2: Family = {
  modelTypes: ['gemma2'],
  spec,
  load,
  head: (src, s, config) => headLlamaLike(src, s, config, (name) => readNorm(src, name, s.dModel, { plusOne: true })),
};
