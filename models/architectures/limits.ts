/**
 * Sane bounds on a model's config.json, checked before anything is sized
 * from it: a config that asks for a billion layers or a hidden size of a
 * billion must be refused with a message naming the field, not run the
 * process out of memory while an array per layer is made.
 *
 * Two checks: {@link checkConfigBounds} on the raw config.json (every number
 * that sizes something, before a family reads it) and {@link checkSpec} on
 * the {@link ArchSpec} a family derived from it (heads that divide the
 * hidden size, one window per layer, a parameter count within reach).
 * familyOf() (index.ts) runs both around every family's `spec`, so no caller
 * sees an unchecked spec.
 */
import type { ArchSpec } from './spec.ts';

/** Largest values of a model's dimensions Loupe accepts (several times those of the largest open models). */
export const MODEL_LIMITS = {
  /** transformer blocks (the largest open models have about 130) */
  MAX_LAYERS: 1024,
  /** hidden size d_model (Llama 3 405B: 16,384) */
  MAX_D_MODEL: 65_536,
  /** attention heads, query or key/value */
  MAX_HEADS: 1024,
  /** dimensions of one head (usual: 64 to 256) */
  MAX_D_HEAD: 1024,
  /** MLP width (Llama 3 405B: 53,248) */
  MAX_D_MLP: 262_144,
  /** vocabulary (Gemma: 256,000) */
  MAX_VOCAB: 1 << 20,
  /** context length / positions, and sliding windows */
  MAX_CONTEXT: 1 << 22,
  /** parameters implied by the dimensions (1e12: no model Loupe could load comes near) */
  MAX_PARAMETERS: 1e12,
} as const;

/**
 * A model's config or weights that Loupe refuses (out of bounds,
 * inconsistent, malformed, or weights that do not match the config). No
 * retry can fix it: jobs fail at once with its message. `file` and `tensor`
 * name what is wrong when it is one file or one tensor.
 */
export class ModelFormatError extends Error {
  constructor(
    message: string,
    readonly where: { file?: string; tensor?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModelFormatError';
  }
}

type Bound = { what: string; max: number };

const LAYERS: Bound = { what: 'layers', max: MODEL_LIMITS.MAX_LAYERS };
const D_MODEL: Bound = { what: 'hidden size', max: MODEL_LIMITS.MAX_D_MODEL };
const HEADS: Bound = { what: 'attention heads', max: MODEL_LIMITS.MAX_HEADS };
const D_HEAD: Bound = { what: 'head dimension', max: MODEL_LIMITS.MAX_D_HEAD };
const D_MLP: Bound = { what: 'MLP width', max: MODEL_LIMITS.MAX_D_MLP };
const VOCAB: Bound = { what: 'vocabulary size', max: MODEL_LIMITS.MAX_VOCAB };
const CONTEXT: Bound = { what: 'positions', max: MODEL_LIMITS.MAX_CONTEXT };

/** config.json keys (of every supported family) that size something, and their bounds. */
const CONFIG_BOUNDS: Record<string, Bound> = {
  n_layer: LAYERS,
  num_hidden_layers: LAYERS,
  num_layers: LAYERS,
  n_embd: D_MODEL,
  hidden_size: D_MODEL,
  d_model: D_MODEL,
  word_embed_proj_dim: D_MODEL,
  n_head: HEADS,
  num_attention_heads: HEADS,
  num_heads: HEADS,
  num_key_value_heads: HEADS,
  head_dim: D_HEAD,
  n_inner: D_MLP,
  intermediate_size: D_MLP,
  ffn_dim: D_MLP,
  vocab_size: VOCAB,
  n_positions: CONTEXT,
  n_ctx: CONTEXT,
  max_position_embeddings: CONTEXT,
  sliding_window: CONTEXT,
  window_size: CONTEXT,
};

/** Per-layer lists of config.json (one entry a layer). */
const PER_LAYER_LISTS = ['layer_types', 'attention_layers'] as const;

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Checks every number of a raw config.json that sizes the model (layers,
 * hidden size, heads, head dimension, MLP width, vocabulary, positions,
 * windows) is a positive integer within {@link MODEL_LIMITS}, and that
 * per-layer lists are not longer than the layer bound. Absent and null
 * fields pass (the family decides whether it needs them).
 * @throws ModelFormatError naming the field
 */
export function checkConfigBounds(config: Record<string, unknown>): void {
  for (const [key, bound] of Object.entries(CONFIG_BOUNDS)) {
    const v = config[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new ModelFormatError(`config.json: "${key}" must be a positive whole number (the ${bound.what}), got ${JSON.stringify(v)}`);
    }
    if (v > bound.max) throw new ModelFormatError(`config.json: "${key}" is ${fmt(v)}; Loupe accepts models with at most ${fmt(bound.max)} ${bound.what}`);
  }
  // a rotary fraction sizes the table of inverse frequencies (d_head × fraction / 2 entries)
  for (const [where, obj] of [['', config], ['rope_parameters.', config.rope_parameters], ['rope_scaling.', config.rope_scaling]] as const) {
    if (typeof obj !== 'object' || obj === null) continue;
    for (const key of ['partial_rotary_factor', 'rotary_pct']) {
      const v = (obj as Record<string, unknown>)[key];
      if (v !== undefined && v !== null && !(typeof v === 'number' && v > 0 && v <= 1)) {
        throw new ModelFormatError(`config.json: "${where}${key}" must be a fraction in (0, 1], got ${JSON.stringify(v)}`);
      }
    }
  }
  for (const key of PER_LAYER_LISTS) {
    const v = config[key];
    if (Array.isArray(v) && v.length > MODEL_LIMITS.MAX_LAYERS) {
      throw new ModelFormatError(`config.json: "${key}" lists ${fmt(v.length)} layers; Loupe accepts models with at most ${fmt(MODEL_LIMITS.MAX_LAYERS)} layers`);
    }
  }
}

/** One weight matrix a spec implies, [rows, cols]. */
export interface ImpliedMatrix {
  name: string;
  rows: number;
  cols: number;
}

/**
 * The weight matrices every checkpoint of `spec` holds, whatever their names
 * in it: token embedding [vocab, d], learned positions, and per block q, k, v,
 * o, the MLP's up (and gate) and down. Norms, biases and an untied unembedding
 * are left out: this is a lower bound of the parameters.
 */
export function impliedMatrices(spec: ArchSpec): ImpliedMatrix[] {
  const d = spec.dModel;
  const qd = spec.nHeads * spec.dHead;
  const kvd = spec.nKvHeads * spec.dHead;
  const out: ImpliedMatrix[] = [{ name: 'token embedding', rows: spec.vocabSize, cols: d }];
  if (spec.positions.kind === 'learned') out.push({ name: 'position embedding', rows: spec.contextLength + spec.positions.offset, cols: d });
  const block: ImpliedMatrix[] = [
    { name: 'q', rows: qd, cols: d },
    { name: 'k', rows: kvd, cols: d },
    { name: 'v', rows: kvd, cols: d },
    { name: 'o', rows: d, cols: qd },
    { name: 'mlp up', rows: spec.dMlp, cols: d },
    ...(spec.mlp === 'gated' ? [{ name: 'mlp gate', rows: spec.dMlp, cols: d }] : []),
    { name: 'mlp down', rows: d, cols: spec.dMlp },
  ];
  // one entry per kind of matrix, counted nLayers times (a list of a million entries would be what we guard against)
  for (const m of block) out.push({ name: `blocks × ${spec.nLayers}: ${m.name}`, rows: m.rows * spec.nLayers, cols: m.cols });
  return out;
}

/** Parameters of {@link impliedMatrices}: a lower bound of a checkpoint's parameter count. */
export function impliedParameters(spec: ArchSpec): number {
  return impliedMatrices(spec).reduce((n, m) => n + m.rows * m.cols, 0);
}

function bounded(value: number, bound: Bound, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new ModelFormatError(`config.json: ${what} gives a ${bound.what} of ${value}, not a positive whole number`);
  if (value > bound.max) throw new ModelFormatError(`config.json: ${what} gives a ${bound.what} of ${fmt(value)}; Loupe accepts at most ${fmt(bound.max)}`);
}

/**
 * Checks a spec derived from a config: every dimension a positive integer
 * within bounds (d_head = hidden size / heads must divide evenly), query
 * heads a multiple of key/value heads, one window (null or positive) per
 * layer, and the implied parameter count within {@link MODEL_LIMITS}.
 * @throws ModelFormatError saying which value is wrong
 */
export function checkSpec(spec: ArchSpec): void {
  bounded(spec.nLayers, LAYERS, 'the layer count');
  bounded(spec.dModel, D_MODEL, 'the hidden size');
  bounded(spec.nHeads, HEADS, 'the head count');
  bounded(spec.nKvHeads, HEADS, 'the key/value head count');
  bounded(spec.dHead, D_HEAD, `hidden size ${spec.dModel} / ${spec.nHeads} heads (or head_dim)`);
  bounded(spec.dMlp, D_MLP, 'the MLP width');
  bounded(spec.vocabSize, VOCAB, 'vocab_size');
  bounded(spec.contextLength, CONTEXT, 'the context length');
  if (spec.nHeads % spec.nKvHeads !== 0) throw new ModelFormatError(`config.json: ${spec.nHeads} attention heads are not a multiple of ${spec.nKvHeads} key/value heads`);
  if (spec.windows.length !== spec.nLayers) throw new ModelFormatError(`config.json: ${spec.windows.length} per-layer attention windows for ${spec.nLayers} layers`);
  for (const w of spec.windows) if (w !== null) bounded(w, CONTEXT, 'a sliding window');
  const params = impliedParameters(spec);
  if (params > MODEL_LIMITS.MAX_PARAMETERS) {
    throw new ModelFormatError(`config.json: its dimensions imply at least ${params.toExponential(2)} parameters; Loupe accepts models of at most ${MODEL_LIMITS.MAX_PARAMETERS.toExponential(0)}`);
  }
}
