/**
 * What a job will hold in memory, estimated before it starts, in plain
 * arithmetic (no I/O; safe to import from the server): an extraction (the
 * model's weights as loaded, the activations of a batch, ONNX Runtime's
 * working set), a training (the SAE's parameters with Adam's moments and
 * their copies, the latents of a batch, the shuffle buffer) and a feature
 * discovery (the SAE, its statistics and examples, and over text the
 * model's forward pass). A job whose
 * estimate does not fit the memory of the workers that would run it is
 * refused with both numbers in GiB ({@link InsufficientMemoryError}), naming
 * the setting that makes it too large; an allocation that fails anyway is a
 * permanent failure ({@link isAllocationFailure}), not a retry.
 *
 * The estimates are deliberately generous (several live copies of each big
 * tensor): a refusal says "lower this setting", never "it might work".
 */
import type { ArchSpec } from './architectures/spec.ts';
import { impliedParameters } from './architectures/limits.ts';
import { weightBytes, type ModelDtype } from './quantize.ts';

/** The constants of the estimates. */
export const MEMORY_POLICY = {
  /** share of a host's memory a job may plan on (the rest: the OS, the worker process itself, the server on a one-machine setup) */
  USABLE_FRACTION: 0.85,
  /** ONNX Runtime and the worker's own baseline besides the tensors, bytes */
  RUNTIME_OVERHEAD_BYTES: 512 * 1024 ** 2,
  /**
   * copies of an SAE's parameters alive at once in training: weights, Adam's
   * two moments, each twice (the step reads one set and writes the other),
   * the initial weights, a checkpoint's copy of weights and moments, and
   * the gradients of W_enc and W_dec inside the step
   */
  TRAIN_PARAMETER_COPIES: 12,
  /** [batch, d_sae] float32 tensors alive at once in a training step (pre-activations, activations, mask, their gradients) */
  TRAIN_LATENT_COPIES: 6,
  /** [batch, d_in] float32 tensors alive at once in a training step (input, reconstruction, their gradients) */
  TRAIN_INPUT_COPIES: 4,
  /** [batch·pos, width] float32 tensors alive at once in a forward pass (residual, normed input, MLP hidden, attention output) */
  FORWARD_ACTIVATION_COPIES: 4,
  /** [batch, heads, pos, pos] float32 attention tensors alive at once (scores and probabilities) */
  FORWARD_ATTENTION_COPIES: 2,
} as const;

const GIB = 1024 ** 3;

/** Bytes as GiB with two decimals (three below 1 GiB), e.g. `1.50 GiB`. */
export function gib(bytes: number): string {
  const v = bytes / GIB;
  return `${v >= 1e6 ? v.toExponential(2) : v.toFixed(v < 1 ? 3 : 2)} GiB`;
}

/** An estimate: total bytes, its parts by name, and the request field that makes it large. */
export interface MemoryEstimate {
  bytes: number;
  /** bytes per part, named for the message */
  parts: Record<string, number>;
  /** the request field (as the API names it) whose value drives the largest part */
  field: string;
}

/** A job that cannot fit in the memory of the workers that would run it. */
export class InsufficientMemoryError extends Error {
  constructor(
    readonly field: string,
    readonly estimateBytes: number,
    readonly limitBytes: number,
    message: string,
  ) {
    super(message);
    this.name = 'InsufficientMemoryError';
  }
}

/** Bytes a job may plan on of a host with `totalBytes` of memory. */
export function usableMemory(totalBytes: number): number {
  return Math.floor(totalBytes * MEMORY_POLICY.USABLE_FRACTION);
}

/**
 * Throws {@link InsufficientMemoryError} when `estimate` is more than
 * {@link usableMemory} of `totalBytes`; the message gives both in GiB, the
 * largest parts, and the field to lower.
 * @param what the job, for the message ("this training")
 * @param where whose memory ("the largest worker's 16.00 GiB")
 */
export function checkFits(estimate: MemoryEstimate, totalBytes: number, what: string, where = 'this host'): void {
  const limit = usableMemory(totalBytes);
  if (estimate.bytes <= limit) return;
  const parts = Object.entries(estimate.parts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, b]) => `${name} ${gib(b)}`)
    .join(', ');
  throw new InsufficientMemoryError(
    estimate.field,
    estimate.bytes,
    limit,
    `${what} needs about ${gib(estimate.bytes)} of memory (${parts}), more than the ${gib(limit)} it may use (${Math.round(MEMORY_POLICY.USABLE_FRACTION * 100)} % of ${where}'s ${gib(totalBytes)}); ${advice(estimate.field)}`,
  );
}

/** What to do about `field`: lower a number, or pick a smaller model or SAE (an id). */
function advice(field: string): string {
  return /Id$/.test(field) ? `${field} names a model or SAE too large for this: pick a smaller one` : `lower ${field}`;
}

/** The name of the largest part of `parts`. */
function largest(parts: Record<string, number>): string {
  return Object.entries(parts).sort((a, b) => b[1] - a[1])[0]![0];
}

/** What a training estimate needs of one hook: its width and what its store holds. */
export interface TrainingHook {
  /** d_in */
  d: number;
  rows: number;
  shards: number;
}

/** The training settings an estimate reads (trainings.config). */
export interface TrainingSizes {
  architecture: string;
  dSae: number | null;
  expansionFactor: number | null;
  batchSize: number;
  mixingShards: number;
}

/**
 * Memory of a training of one SAE per hook (all trained at once), bytes:
 * the SAE parameters (2·d_in·d_sae + d_sae + d_in, float32) times
 * {@link MEMORY_POLICY.TRAIN_PARAMETER_COPIES}, the latents
 * (batch × d_sae × TRAIN_LATENT_COPIES), the inputs, the shuffle buffer
 * (mixingShards shards of activations) and the runtime's overhead. `field`
 * is `config.batchSize` when the latents dominate, `config.dSae` (or
 * `config.expansionFactor`) when the parameters do, `config.mixingShards`
 * when the buffer does.
 * @example estimateTrainingMemory({architecture: 'topk', dSae: 1 << 20, expansionFactor: null, batchSize: 1 << 16, mixingShards: 8}, [{d: 768, rows: 1e6, shards: 16}]).bytes // ≈ 1.5 PiB
 */
export function estimateTrainingMemory(c: TrainingSizes, hooks: readonly TrainingHook[]): MemoryEstimate {
  const f32 = 4;
  let params = 0;
  let latents = 0;
  let inputs = 0;
  let buffer = 0;
  let tracking = 0;
  for (const h of hooks) {
    const dSae = c.dSae ?? Math.round(h.d * (c.expansionFactor ?? 8));
    const p = 2 * h.d * dSae + dSae + h.d + (c.architecture === 'jumprelu' ? dSae : 0);
    params += p * f32 * MEMORY_POLICY.TRAIN_PARAMETER_COPIES;
    latents += c.batchSize * dSae * f32 * MEMORY_POLICY.TRAIN_LATENT_COPIES;
    inputs += c.batchSize * h.d * f32 * MEMORY_POLICY.TRAIN_INPUT_COPIES;
    const rowsPerShard = Math.ceil(h.rows / Math.max(1, h.shards));
    buffer += Math.min(h.rows, rowsPerShard * Math.max(1, c.mixingShards)) * h.d * f32;
    // per feature: last fired, fired in the window (float64), density counts
    tracking += dSae * 8 * 3;
  }
  const parts = {
    'SAE parameters, Adam moments and their copies': params,
    'latents of a batch': latents,
    'inputs of a batch': inputs,
    'shuffle buffer': buffer,
    'feature tracking': tracking,
    runtime: MEMORY_POLICY.RUNTIME_OVERHEAD_BYTES,
  };
  const top = largest(parts);
  const field =
    top === 'latents of a batch' || top === 'inputs of a batch'
      ? 'config.batchSize'
      : top === 'shuffle buffer'
        ? 'config.mixingShards'
        : c.dSae !== null
          ? 'config.dSae'
          : 'config.expansionFactor';
  return { bytes: Object.values(parts).reduce((a, b) => a + b, 0), parts, field };
}

/** The extraction settings an estimate reads. */
export interface ExtractionSizes {
  dtype: ModelDtype;
  batchSize: number;
  contextLength: number;
}

/**
 * Memory of an extraction, bytes: the model's weights as loaded (read as
 * float32, then the graph's and ONNX Runtime's copies at `dtype`), the hook
 * outputs of a batch (and their copy for the store), the forward pass's
 * working set ([batch·pos, widest layer] tensors and the attention
 * [batch, heads, pos, pos]) and the runtime's overhead. `field` is `dtype`
 * when the weights dominate (or `modelId` at q4, the smallest), else
 * `batchSize` (`contextLength` when attention dominates).
 * @param hookWidths per hook stored, the values of one token's row (d, or heads × d_head)
 */
export function estimateExtractionMemory(spec: ArchSpec, s: ExtractionSizes, hookWidths: readonly number[]): MemoryEstimate {
  const f32 = 4;
  // every parameter read as float32 (an untied unembedding too: assume the worst)
  const params = impliedParameters(spec) + spec.vocabSize * spec.dModel;
  const qd = spec.nHeads * spec.dHead;
  const kvd = spec.nKvHeads * spec.dHead;
  // [out, in] of every matrix, the layers' stacked (the bytes of q8/q4 depend on the shape, not only the count)
  const matrices: [number, number][] = [
    [spec.vocabSize, spec.dModel], // embedding
    [spec.vocabSize, spec.dModel], // unembedding (a quantized copy even when tied)
    [qd * spec.nLayers, spec.dModel],
    [2 * kvd * spec.nLayers, spec.dModel],
    [spec.dModel * spec.nLayers, qd],
    [spec.dMlp * spec.nLayers * (spec.mlp === 'gated' ? 2 : 1), spec.dModel],
    [spec.dModel * spec.nLayers, spec.dMlp],
  ];
  if (spec.positions.kind === 'learned') matrices.push([spec.contextLength + spec.positions.offset, spec.dModel]);
  const atDtype = matrices.reduce((n, [r, c]) => n + weightBytes(s.dtype, r, c), 0);
  const tokens = s.batchSize * s.contextLength;
  const widest = Math.max(spec.dModel, spec.dMlp * (spec.mlp === 'gated' ? 2 : 1), qd + 2 * kvd);
  const parts = {
    'weights read as float32': params * f32,
    [`weights at ${s.dtype} (graph and runtime)`]: 2 * atDtype,
    'hook outputs of a batch': 2 * tokens * hookWidths.reduce((a, b) => a + b, 0) * f32,
    'forward pass of a batch': MEMORY_POLICY.FORWARD_ACTIVATION_COPIES * tokens * widest * f32,
    'attention of a batch': MEMORY_POLICY.FORWARD_ATTENTION_COPIES * s.batchSize * spec.nHeads * s.contextLength * s.contextLength * f32,
    runtime: MEMORY_POLICY.RUNTIME_OVERHEAD_BYTES,
  };
  const top = largest(parts);
  const field = top.startsWith('weights') ? (s.dtype === 'q4' ? 'modelId' : 'dtype') : top === 'attention of a batch' ? 'contextLength' : top === 'runtime' ? 'modelId' : 'batchSize';
  return { bytes: Object.values(parts).reduce((a, b) => a + b, 0), parts, field };
}

/** The discovery settings an estimate reads. */
export interface DiscoverySizes {
  dIn: number;
  dSae: number;
  /** examples kept per feature, and tokens shown before and after each */
  topK: number;
  left: number;
  right: number;
}

/** Rows a discovery encodes at once (models/features/discover.ts). */
const DISCOVERY_CHUNK_ROWS = 512;
/** Bins of a feature's activation histogram (models/features/discover.ts). */
const DISCOVERY_HISTOGRAM_BINS = 24;

/**
 * Memory of a feature discovery, bytes: the SAE's weights (and the encoder
 * session's copy), the latents of a chunk of rows, every feature's
 * statistics and kept examples (values of each example window in the second
 * pass), and over text the model's forward pass as an extraction of
 * `text.batchSize` windows would need ({@link estimateExtractionMemory}).
 * `field` names what to change: `contextLength` (or `saeId`) for the
 * model's part, `topK` for the examples, `saeId` for the SAE itself.
 */
export function estimateDiscoveryMemory(d: DiscoverySizes, text: { spec: ArchSpec; dtype: ModelDtype; batchSize: number; contextLength: number } | null): MemoryEstimate {
  const f32 = 4;
  const window = d.left + d.right + 1;
  const parts: Record<string, number> = {
    'SAE weights': 2 * (2 * d.dIn * d.dSae + d.dSae + d.dIn) * f32,
    'latents of a chunk': 3 * DISCOVERY_CHUNK_ROWS * d.dSae * f32,
    // count, sum (float64), max, histogram, then per kept example its value, position (float64) and window
    'feature statistics and examples': d.dSae * (8 + 8 + 4 + DISCOVERY_HISTOGRAM_BINS * 4 + d.topK * (4 + 8 + 1 + window * f32)),
    runtime: MEMORY_POLICY.RUNTIME_OVERHEAD_BYTES,
  };
  let modelField = 'saeId';
  if (text) {
    const model = estimateExtractionMemory(text.spec, text, [d.dIn]);
    for (const [name, b] of Object.entries(model.parts)) if (name !== 'runtime') parts[`model: ${name}`] = b;
    modelField = model.field === 'contextLength' || model.field === 'batchSize' ? 'contextLength' : 'saeId';
  }
  const top = largest(parts);
  const field = top.startsWith('model: ') ? modelField : top === 'feature statistics and examples' ? 'topK' : 'saeId';
  return { bytes: Object.values(parts).reduce((a, b) => a + b, 0), parts, field };
}

/**
 * True for an error that says memory could not be allocated: V8's
 * "Array buffer allocation failed" and invalid typed array lengths, ONNX
 * Runtime's bad_alloc and "Failed to allocate". The same allocation fails on
 * the next attempt: jobs treat it as permanent.
 */
export function isAllocationFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof RangeError && /array buffer allocation failed|invalid typed array length|invalid array length|array buffer.*too large/i.test(err.message)) return true;
  return /bad_alloc|failed to allocate|out of memory|allocation failed/i.test(err.message);
}
