/**
 * Pages of a tokenized dataset for the sample browser: documents with their
 * token ids, each token's display string (so the text can be shown with
 * token boundaries) and the decoded text. Reads only the requested documents'
 * offsets and tokens (positioned reads), whatever the dataset's size.
 */
import type { Tokenizer } from '../tokenizer.ts';
import { openTokenStore } from './format.ts';
import { DATASET_LIMITS } from './limits.ts';

/** One document of a page. */
export interface SampleDocument {
  /** 0-based document index */
  index: number;
  /** offset of its first token in tokens.bin */
  start: number;
  /** its length, tokens */
  length: number;
  /** token ids shown (the first `maxTokensPerDocument`) */
  ids: number[];
  /** per-token display strings (tokenizer.tokenStrings), one per id */
  strings: string[];
  /** the decoded text of the ids shown */
  text: string;
  /** true when the document is longer than what is shown */
  truncated: boolean;
}

/** One page of the sample browser. */
export interface SamplePage {
  offset: number;
  limit: number;
  /** documents in the dataset */
  total: number;
  documents: SampleDocument[];
}

/** Which page, and how much of each document. */
export interface SampleOptions {
  /** first document, 0-based; default 0 */
  offset?: number;
  /** documents per page; default 20, at most {@link DATASET_LIMITS.SAMPLE_MAX_DOCUMENTS} */
  limit?: number;
  /** tokens shown per document; default {@link DATASET_LIMITS.SAMPLE_MAX_TOKENS_PER_DOCUMENT} */
  maxTokensPerDocument?: number;
}

/**
 * A page of documents of a tokenized dataset folder.
 *
 * @throws RangeError for a negative or non-integer offset/limit; DatasetError `bad_file` for an incomplete folder
 * @example const page = await readSample(dir, tokenizer, { offset: 40, limit: 20 })
 */
export async function readSample(dir: string, tokenizer: Pick<Tokenizer, 'tokenStrings' | 'decode'>, opts: SampleOptions = {}): Promise<SamplePage> {
  const offset = opts.offset ?? 0;
  const limit = Math.min(opts.limit ?? 20, DATASET_LIMITS.SAMPLE_MAX_DOCUMENTS);
  const maxTokens = opts.maxTokensPerDocument ?? DATASET_LIMITS.SAMPLE_MAX_TOKENS_PER_DOCUMENT;
  for (const [name, v] of [['offset', offset], ['limit', limit], ['maxTokensPerDocument', maxTokens]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  const store = await openTokenStore(dir);
  try {
    const page: SamplePage = { offset, limit, total: store.documents, documents: [] };
    if (offset >= store.documents || limit === 0) return page;
    const offsets = await store.readOffsets(offset, limit);
    for (let i = 0; i + 1 < offsets.length; i++) {
      const start = offsets[i]!;
      const length = offsets[i + 1]! - start;
      const ids = await store.readTokens(start, Math.min(length, maxTokens));
      page.documents.push({
        index: offset + i,
        start,
        length,
        ids: Array.from(ids),
        strings: tokenizer.tokenStrings(ids),
        text: tokenizer.decode(ids),
        truncated: length > ids.length,
      });
    }
    return page;
  } finally {
    await store.close();
  }
}
