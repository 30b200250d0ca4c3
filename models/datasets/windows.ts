/**
 * Fixed-length windows over a tokenized dataset, for whatever runs the model
 * over it (activation extraction, evaluation): where each sequence of
 * `contextLength` tokens starts in tokens.bin.
 *
 * - `acrossDocuments: true` packs documents back to back (as pretraining
 *   does, documents separated by their BOS/EOS): windows start at 0, stride,
 *   2·stride, … over the whole token stream.
 * - `acrossDocuments: false` keeps every window inside one document: windows
 *   start at each document's start, then every `stride` tokens within it.
 *
 * A window that would run past the end (of the stream, or of its document) is
 * a *partial* window: dropped by default, or kept with its shorter length
 * (`partial: 'keep'`, for a consumer that pads): it starts where the next
 * stride would, so each document (or the stream) ends with one window that
 * reaches its last token.
 */

export interface WindowOptions {
  /** tokens per window */
  contextLength: number;
  /** tokens between window starts; default contextLength (no overlap) */
  stride?: number;
  /** pack documents back to back (true) or keep windows within documents (false) */
  acrossDocuments: boolean;
  /** windows shorter than contextLength: dropped (default) or kept */
  partial?: 'drop' | 'keep';
  /** stop after this many windows */
  maxWindows?: number;
}

/** Window starts (token offsets into tokens.bin) and lengths, `count` of them. */
export interface Windows {
  count: number;
  /** [count] start offsets, in tokens (exact integers below 2^53) */
  start: Float64Array;
  /** [count] lengths, in tokens: contextLength, or less for a kept partial window */
  length: Uint32Array;
}

/**
 * The windows of a dataset given its document offsets (N + 1 values, as in
 * docs.bin: document d is tokens [offsets[d], offsets[d + 1])).
 *
 * @example sequenceWindows([0, 5, 12], { contextLength: 4, acrossDocuments: true }) // starts [0, 4, 8]
 * @example sequenceWindows([0, 5, 12], { contextLength: 4, acrossDocuments: false }) // starts [0, 5]
 * @example sequenceWindows([0, 5, 12], { contextLength: 4, stride: 2, acrossDocuments: false }) // starts [0, 5, 7]
 */
export function sequenceWindows(offsets: ArrayLike<number>, opts: WindowOptions): Windows {
  const ctx = opts.contextLength;
  const stride = opts.stride ?? ctx;
  if (!Number.isSafeInteger(ctx) || ctx < 1) throw new TypeError(`contextLength must be a positive integer, got ${ctx}`);
  if (!Number.isSafeInteger(stride) || stride < 1) throw new TypeError(`stride must be a positive integer, got ${stride}`);
  const keep = opts.partial === 'keep';
  const max = opts.maxWindows ?? Infinity;
  const n = offsets.length - 1;
  const total = n >= 1 ? offsets[n]! - offsets[0]! : 0;

  // Windows over one span of len tokens: full ones every stride, then (keep) one partial window, which
  // starts where the next stride would and exists when the full ones stop short of the end and that
  // start is still inside the span (with stride > contextLength the tail may fall in a gap).
  const hasPartial = (len: number, full: number): boolean => (full > 0 ? (full - 1) * stride + ctx : 0) < len && full * stride < len;
  const countSpan = (len: number): number => {
    if (len <= 0) return 0;
    const full = len >= ctx ? Math.floor((len - ctx) / stride) + 1 : 0;
    return keep && hasPartial(len, full) ? full + 1 : full;
  };
  let count = 0;
  if (opts.acrossDocuments) count = countSpan(total);
  else for (let d = 0; d < n; d++) count += countSpan(offsets[d + 1]! - offsets[d]!);
  count = Math.min(count, max);

  const start = new Float64Array(count);
  const length = new Uint32Array(count);
  let w = 0;
  const emit = (a: number, b: number): void => {
    const len = b - a;
    const full = len >= ctx ? Math.floor((len - ctx) / stride) + 1 : 0;
    for (let k = 0; k < full && w < count; k++, w++) {
      start[w] = a + k * stride;
      length[w] = ctx;
    }
    const s = full * stride;
    if (keep && hasPartial(len, full) && w < count) {
      start[w] = a + s;
      length[w] = len - s;
      w++;
    }
  };
  if (opts.acrossDocuments) {
    if (n >= 1) emit(offsets[0]!, offsets[n]!);
  } else {
    for (let d = 0; d < n && w < count; d++) emit(offsets[d]!, offsets[d + 1]!);
  }
  return { count, start, length };
}
