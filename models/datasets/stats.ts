/**
 * Statistics of a tokenized dataset: counts, the distribution of document
 * lengths (exact quantiles and a log-spaced histogram), unique tokens and the
 * most frequent tokens with their display strings.
 *
 * {@link StatsAccumulator} gathers them document by document — tokenize.ts
 * feeds it in the same pass that writes tokens.bin — in memory that does not
 * grow with the dataset: one count per vocabulary entry (8 bytes each) and one
 * per distinct document length. {@link computeStats} does the same from a
 * tokenized folder in one streaming pass over docs.bin and tokens.bin.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Tokenizer } from '../tokenizer.ts';
import { DatasetError } from './errors.ts';
import { openTokenStore, STATS_FILE } from './format.ts';
import { DATASET_LIMITS } from './limits.ts';

/** stats.json of a tokenized dataset. Lengths are in tokens. */
export interface DatasetStats {
  documents: number;
  tokens: number;
  /** distinct token ids that occur */
  uniqueTokens: number;
  /** the tokenizer's vocabulary size, for the fraction of it in use */
  vocabSize: number;
  length: {
    min: number;
    max: number;
    mean: number;
    /** quantiles as numpy's default (linear interpolation between order statistics) */
    median: number;
    p10: number;
    p90: number;
    p99: number;
  };
  /**
   * Document lengths in log-spaced bins, two per octave (edges 1, 2, 3, 4, 6,
   * 8, 12, 16, 24, …): `counts[i]` documents have a length in
   * `[edges[i], edges[i + 1])`. Runs up to the bin of the longest document.
   */
  histogram: { edges: number[]; counts: number[] };
  /** most frequent tokens, most frequent first (ties by id) */
  topTokens: { id: number; count: number; fraction: number; text: string; special: boolean }[];
}

/** Bin edges 1, 2, 3, 4, 6, 8, 12, …, the first one past `max`. */
export function histogramEdges(max: number): number[] {
  const edges = [1, 2];
  for (let p = 2; edges[edges.length - 1]! <= max; p *= 2) edges.push(p + p / 2, 2 * p);
  // Trim so that the last edge is the first one greater than max.
  while (edges.length > 2 && edges[edges.length - 2]! > max) edges.pop();
  return edges;
}

/** Index of the bin of length n ≥ 1 among the edges of {@link histogramEdges}. */
function binOf(n: number): number {
  if (n < 2) return 0;
  const k = Math.floor(Math.log2(n)); // 2^k <= n < 2^(k+1)
  let p = 2 ** k;
  // Guard against floating error in log2 near powers of two.
  if (p > n) p /= 2;
  else if (2 * p <= n) p *= 2;
  const octave = Math.log2(p);
  return 2 * octave - 1 + (n >= p + p / 2 && p >= 2 ? 1 : 0);
}

const EXACT_LENGTHS = 1 << 16;

/** Gathers {@link DatasetStats} one document at a time. */
export class StatsAccumulator {
  private tokenCounts: Float64Array;
  /** documents of each length below 2^16 */
  private readonly shortLengths = new Float64Array(EXACT_LENGTHS);
  /** documents of each longer length (few) */
  private readonly longLengths = new Map<number, number>();
  private readonly bins: number[] = [];
  documents = 0;
  tokens = 0;
  private min = Infinity;
  private max = 0;

  constructor(vocabSize: number) {
    this.tokenCounts = new Float64Array(Math.max(1, vocabSize));
  }

  /** Adds one document's token ids. */
  add(ids: ArrayLike<number>): void {
    this.addLength(ids.length);
    this.addTokens(ids);
  }

  /** Counts a document of n tokens (its tokens are counted by {@link addTokens}, in one call or in pieces). */
  addLength(n: number): void {
    this.documents++;
    this.tokens += n;
    if (n < this.min) this.min = n;
    if (n > this.max) this.max = n;
    if (n < EXACT_LENGTHS) this.shortLengths[n]!++;
    else this.longLengths.set(n, (this.longLengths.get(n) ?? 0) + 1);
    if (n > 0) {
      const b = binOf(n);
      while (this.bins.length <= b) this.bins.push(0);
      this.bins[b]!++;
    }
  }

  /** Counts token occurrences (of a document, or a piece of one). */
  addTokens(ids: ArrayLike<number>): void {
    let counts = this.tokenCounts;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id >= counts.length) {
        const grown = new Float64Array(Math.max(id + 1, counts.length * 2));
        grown.set(counts);
        counts = this.tokenCounts = grown;
      }
      counts[id]!++;
    }
  }

  /** The length at 0-based rank k in sorted order. */
  private lengthAtRank(k: number): number {
    let seen = 0;
    for (let len = 0; len < EXACT_LENGTHS; len++) {
      seen += this.shortLengths[len]!;
      if (seen > k) return len;
    }
    for (const len of [...this.longLengths.keys()].sort((a, b) => a - b)) {
      seen += this.longLengths.get(len)!;
      if (seen > k) return len;
    }
    return this.max;
  }

  private quantile(q: number): number {
    if (this.documents === 0) return 0;
    const pos = q * (this.documents - 1);
    const lo = Math.floor(pos);
    const a = this.lengthAtRank(lo);
    if (pos === lo) return a;
    const b = this.lengthAtRank(lo + 1);
    return a + (b - a) * (pos - lo);
  }

  /** The statistics so far; `tokenizer` gives the display strings of the top tokens. */
  finish(tokenizer: Pick<Tokenizer, 'tokenStrings' | 'isSpecial' | 'vocabSize'>, topK: number = DATASET_LIMITS.STATS_TOP_K): DatasetStats {
    const counts = this.tokenCounts;
    let unique = 0;
    // Top-k by a bounded selection: keep the k best in a small sorted array.
    const top: { id: number; count: number }[] = [];
    for (let id = 0; id < counts.length; id++) {
      const c = counts[id]!;
      if (c === 0) continue;
      unique++;
      if (top.length < topK || c > top[top.length - 1]!.count) {
        let i = top.length;
        while (i > 0 && top[i - 1]!.count < c) i--;
        top.splice(i, 0, { id, count: c });
        if (top.length > topK) top.pop();
      }
    }
    const strings = tokenizer.tokenStrings(top.map((t) => t.id));
    const edges = histogramEdges(this.max);
    const histCounts = edges.slice(0, -1).map((_, i) => this.bins[i] ?? 0);
    return {
      documents: this.documents,
      tokens: this.tokens,
      uniqueTokens: unique,
      vocabSize: tokenizer.vocabSize,
      length: {
        min: this.documents === 0 ? 0 : this.min,
        max: this.max,
        mean: this.documents === 0 ? 0 : this.tokens / this.documents,
        median: this.quantile(0.5),
        p10: this.quantile(0.1),
        p90: this.quantile(0.9),
        p99: this.quantile(0.99),
      },
      histogram: { edges, counts: histCounts },
      topTokens: top.map((t, i) => ({
        id: t.id,
        count: t.count,
        fraction: this.tokens === 0 ? 0 : t.count / this.tokens,
        text: strings[i]!,
        special: tokenizer.isSpecial(t.id),
      })),
    };
  }
}

/**
 * Statistics of a tokenized dataset folder, in one streaming pass over
 * docs.bin and tokens.bin (chunks of `chunkTokens`), e.g. for a folder
 * written before stats.json existed. Same result as the accumulator that
 * tokenizeDataset runs.
 */
export async function computeStats(
  dir: string,
  tokenizer: Pick<Tokenizer, 'tokenStrings' | 'isSpecial' | 'vocabSize'>,
  opts: { topK?: number; chunkTokens?: number; signal?: AbortSignal } = {},
): Promise<DatasetStats> {
  const store = await openTokenStore(dir);
  const chunk = opts.chunkTokens ?? DATASET_LIMITS.TOKEN_CHUNK_TOKENS;
  const acc = new StatsAccumulator(tokenizer.vocabSize);
  try {
    const docsPerRead = 64 * 1024;
    for (let d0 = 0; d0 < store.documents; d0 += docsPerRead) {
      const offsets = await store.readOffsets(d0, docsPerRead);
      for (let i = 0; i + 1 < offsets.length; i++) {
        if (opts.signal?.aborted) throw new DatasetError('cancelled', 'statistics cancelled');
        const start = offsets[i]!;
        const end = offsets[i + 1]!;
        if (end - start <= chunk) {
          acc.add(await store.readTokens(start, end - start));
          continue;
        }
        // A document longer than a chunk: one document, its tokens read piece by piece.
        acc.addLength(end - start);
        for (let p = start; p < end; p += chunk) acc.addTokens(await store.readTokens(p, Math.min(chunk, end - p)));
      }
    }
  } finally {
    await store.close();
  }
  return acc.finish(tokenizer, opts.topK);
}

/**
 * Reads stats.json of a tokenized dataset folder (written by tokenizeDataset).
 *
 * @throws DatasetError `bad_file` when it is missing or unreadable
 */
export async function readStats(dir: string): Promise<DatasetStats> {
  const file = path.join(dir, STATS_FILE);
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as DatasetStats;
  } catch (err) {
    throw new DatasetError('bad_file', `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `unreadable (${(err as Error).message})`}`, { file, cause: err });
  }
}
