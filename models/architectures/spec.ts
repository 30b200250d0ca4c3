/**
 * What a family file hands to the decoder builder: the shape of the network
 * ({@link ArchSpec}) and its weights in a common layout ({@link ModelWeights}).
 * Family files (gpt2.ts, llama.ts, …) only read a checkpoint's config.json
 * and parameter names; the forward pass itself is written once, in
 * decoder.ts.
 */
import type { WeightSource } from './weights.ts';

export type Activation = 'gelu_tanh' | 'gelu' | 'relu' | 'silu';

export interface RopeSpec {
  /** dimensions of each head that rotate (the first ones), even */
  rotaryDim: number;
  /** inverse frequencies, rotaryDim / 2 of them, scaling already applied */
  invFreq: Float64Array;
}

export interface ArchSpec {
  modelType: string;
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  contextLength: number;
  norm: 'layer' | 'rms';
  normEps: number;
  /** learned position embeddings (with a row offset, 2 for OPT) or rotary */
  positions: { kind: 'learned'; offset: number } | { kind: 'rope'; rope: RopeSpec };
  /** multiplier of attention scores (1/sqrt(dHead) usually) */
  attnScale: number;
  /** c in c·tanh(s/c) applied to attention scores (Gemma 2) */
  attnSoftcap: number | null;
  /** c in c·tanh(l/c) applied to the logits (Gemma 2) */
  finalSoftcap: number | null;
  /** per layer: null for full causal attention, w for a sliding window (0 <= i - j < w) */
  windows: (number | null)[];
  /** plain: down(act(up x)); gated: down(act(gate x) · up x) */
  mlp: 'plain' | 'gated';
  act: Activation;
  /** parallel: x + attn(ln1 x) + mlp(ln2 x) (GPT-NeoX, GPT-J) */
  parallelResidual: boolean;
  /** the token embedding is multiplied by this (Gemma: sqrt(dModel)) */
  embedScale: number;
}

/**
 * A linear map y = x·W + b with W given either as [in, out] (GPT-2's Conv1D)
 * or as [out, in] (torch.nn.Linear).
 */
export interface Linear {
  w: Float32Array;
  layout: 'in_out' | 'out_in';
  inFeatures: number;
  outFeatures: number;
  b?: Float32Array;
}

/** Gain (already 1 + w for Gemma) and optional bias of a norm. */
export interface Norm {
  w: Float32Array;
  b?: Float32Array;
}

export interface BlockWeights {
  ln1: Norm;
  /** absent only for a parallel block that shares ln1 (GPT-J) */
  ln2?: Norm;
  /** Gemma 2: norms of the attention and MLP outputs before their residual adds */
  postAttnNorm?: Norm;
  postMlpNorm?: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  up: Linear;
  gate?: Linear;
  down: Linear;
}

export interface ModelWeights {
  /** token embedding [vocab, dModel] */
  embed: Float32Array;
  /** learned positions [rows, dModel] */
  posEmbed?: Float32Array;
  blocks: BlockWeights[];
  finalNorm: Norm | null;
  /** output projection [dModel → vocab]; null when tied to the embedding */
  unembed: Linear | null;
}

/** What turns a last residual stream into logits: the final norm, the unembedding, and the embedding it may be tied to. */
export type HeadWeights = Pick<ModelWeights, 'embed' | 'finalNorm' | 'unembed'>;

/** One architecture family: which model_types it serves, its spec and its weights. */
export interface Family {
  modelTypes: readonly string[];
  spec(config: Record<string, unknown>): ArchSpec;
  load(src: WeightSource, spec: ArchSpec, config: Record<string, unknown>): Promise<ModelWeights>;
  /** The head alone (the part of `load` the logit lens needs), reading no block. */
  head(src: WeightSource, spec: ArchSpec, config: Record<string, unknown>): Promise<HeadWeights>;
}

/** The usual values of the rarer fields (Gemma 2 and GPT-NeoX set their own). */
export const SPEC_DEFAULTS = { attnSoftcap: null, finalSoftcap: null, parallelResidual: false, embedScale: 1 } as const satisfies Partial<ArchSpec>;

/** Reads a number from config.json under the first of `keys` present. */
export function num(config: Record<string, unknown>, ...keys: string[]): number {
  for (const k of keys) {
    const v = config[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  throw new Error(`config.json: missing number ${keys.map((k) => `"${k}"`).join(' or ')} (model_type ${String(config.model_type)})`);
}

export function optNum(config: Record<string, unknown>, ...keys: string[]): number | null {
  for (const k of keys) {
    const v = config[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

/**
 * Rotary embedding parameters from a config, in both the transformers 5
 * form (`rope_parameters`) and the older one (`rope_theta`, `rope_scaling`,
 * `partial_rotary_factor`, `rotary_pct`, `rotary_emb_base`). Supports the
 * default, linear and llama3 rope types; others are refused by name.
 */
export function ropeFromConfig(config: Record<string, unknown>, dHead: number): RopeSpec {
  const params = (config.rope_parameters ?? config.rope_scaling ?? {}) as Record<string, unknown>;
  const theta = optNum(params, 'rope_theta') ?? optNum(config, 'rope_theta', 'rotary_emb_base') ?? 10000;
  const partial = optNum(params, 'partial_rotary_factor') ?? optNum(config, 'partial_rotary_factor', 'rotary_pct') ?? 1;
  const type = String(params.rope_type ?? params.type ?? 'default');
  let rotaryDim = Math.floor(dHead * partial);
  rotaryDim -= rotaryDim % 2;
  const half = rotaryDim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    // torch: 1 / base ** (arange(0, dim, 2).float() / dim), in float32
    invFreq[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / rotaryDim)));
  }
  if (type === 'linear') {
    const factor = num(params, 'factor');
    for (let i = 0; i < half; i++) invFreq[i] = invFreq[i]! / factor;
  } else if (type === 'llama3') {
    const factor = num(params, 'factor');
    const low = num(params, 'low_freq_factor');
    const high = num(params, 'high_freq_factor');
    const original = num(params, 'original_max_position_embeddings');
    const lowWavelen = original / low;
    const highWavelen = original / high;
    for (let i = 0; i < half; i++) {
      const f = invFreq[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) invFreq[i] = f / factor;
      else if (wavelen >= highWavelen) {
        const smooth = (original / wavelen - low) / (high - low);
        invFreq[i] = (1 - smooth) * (f / factor) + smooth * f;
      }
    }
  } else if (type !== 'default') {
    throw new Error(`rope type "${type}" is not supported (model_type ${String(config.model_type)}; supported: default, linear, llama3)`);
  }
  return { rotaryDim, invFreq };
}
