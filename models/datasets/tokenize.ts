/**
 * Documents → token ids on disk (the layout of format.ts) with statistics
 * gathered in the same pass.
 *
 * Documents are tokenized in batches (`encodeBatch`, at most
 * `batchDocuments` documents or `batchChars` characters at a time) and their
 * ids appended to a fixed buffer of `chunkTokens` uint32 values that is
 * written out each time it fills. Memory is bounded by that buffer, one batch
 * of text and ids, and the longest document — never by the dataset.
 *
 * BOS and EOS, per document:
 * - `addBos` defaults to what the model's tokenizer does on its own
 *   (`addsBosByDefault`: Llama/Gemma yes, GPT-2 no).
 * - `addEos` defaults to true exactly when no BOS is added and the tokenizer
 *   has an EOS: then EOS is what separates documents, as in GPT-2-style
 *   pretraining (`<|endoftext|>` between documents, BOS = EOS) and Qwen2.
 *   With a BOS (Llama), BOS already marks each document start and no EOS is
 *   added unless asked.
 *
 * Files go to temporary names and are renamed into place at the end, meta.json
 * last; on an error or a cancel the temporary files are removed and an earlier
 * complete dataset in the folder, if any, is left as it was.
 */
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Tokenizer } from '../tokenizer.ts';
import { DatasetError } from './errors.ts';
import {
  DOCS_FILE,
  FORMAT_VERSION,
  META_FILE,
  STATS_FILE,
  TOKENS_FILE,
  tempName,
  Uint32FileWriter,
  Uint64FileWriter,
  writeJsonAtomic,
  type DatasetMeta,
} from './format.ts';
import { DATASET_LIMITS } from './limits.ts';
import type { SourceDocument } from './sources.ts';
import { StatsAccumulator, type DatasetStats } from './stats.ts';

/** A snapshot of tokenization progress. */
export interface TokenizeProgress {
  documents: number;
  tokens: number;
  /** bytes of the source files read, when the document source counts them (a DocumentStream does) */
  bytesRead: number;
  /** size of the source files, bytes; 0 when unknown */
  bytesTotal: number;
  skippedRows: number;
  /** the last event, sent once at the end */
  done: boolean;
}

/** Settings of {@link tokenizeDataset}; every one has a default. */
export interface TokenizeOptions {
  /** prepend BOS to every document; default the tokenizer's own ({@link Tokenizer.addsBosByDefault}) */
  addBos?: boolean;
  /** append EOS to every document; default: true when no BOS is added and the tokenizer has an EOS */
  addEos?: boolean;
  /** stop after this many (non-empty) documents */
  maxDocuments?: number;
  /** stop at this many tokens; the document that crosses it is cut */
  maxTokens?: number;
  /** name of the model recorded in meta.json; default the tokenizer folder's name */
  model?: string;
  /** recorded as is in meta.json (repository, split, column, file names, …) */
  source?: Record<string, unknown>;
  /** documents per encodeBatch call; default {@link DATASET_LIMITS.TOKENIZE_BATCH_DOCUMENTS} */
  batchDocuments?: number;
  /** characters per encodeBatch call; default {@link DATASET_LIMITS.TOKENIZE_BATCH_CHARS} */
  batchChars?: number;
  /** tokens buffered before a write; default {@link DATASET_LIMITS.TOKEN_CHUNK_TOKENS} */
  chunkTokens?: number;
  /** most frequent tokens kept in stats.json; default {@link DATASET_LIMITS.STATS_TOP_K} */
  topK?: number;
  /** called at most every `progressIntervalMs` and once at the end (`done: true`) */
  onProgress?: (p: TokenizeProgress) => void;
  /** default {@link DATASET_LIMITS.PROGRESS_INTERVAL_MS} */
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

/** What {@link tokenizeDataset} wrote. */
export interface TokenizeResult {
  dir: string;
  meta: DatasetMeta;
  stats: DatasetStats;
  /** the most tokens the write buffer held at once (≤ chunkTokens): memory did not grow with the dataset */
  maxBufferedTokens: number;
}

/** Live counters a document source may expose (a DocumentStream does); read for progress and meta.json. */
export type SourceCounters = Partial<{ readonly bytesRead: number; readonly bytesTotal: number; readonly skippedRows: number }>;

function positiveInt(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Tokenizes documents into `outDir` (created if missing): tokens.bin,
 * docs.bin, stats.json and meta.json.
 *
 * @param docs documents, e.g. from openDocuments (whose byte counters feed the progress)
 * @throws DatasetError `cancelled` when the signal aborts (no tokens.bin is left); reader errors as they come
 * @example
 * const docs = await openDocuments(['train.jsonl']);
 * const { meta, stats } = await tokenizeDataset(docs, await loadTokenizer(modelDir), 'data/datasets/7', { onProgress: console.log });
 */
export async function tokenizeDataset(docs: AsyncIterable<SourceDocument> & SourceCounters, tokenizer: Tokenizer, outDir: string, opts: TokenizeOptions = {}): Promise<TokenizeResult> {
  const addBos = (opts.addBos ?? tokenizer.addsBosByDefault) && tokenizer.bosId !== null;
  const addEos = (opts.addEos ?? !addBos) && tokenizer.eosId !== null;
  const maxDocuments = positiveInt('maxDocuments', opts.maxDocuments);
  const maxTokens = positiveInt('maxTokens', opts.maxTokens);
  const batchDocs = positiveInt('batchDocuments', opts.batchDocuments) ?? DATASET_LIMITS.TOKENIZE_BATCH_DOCUMENTS;
  const batchChars = positiveInt('batchChars', opts.batchChars) ?? DATASET_LIMITS.TOKENIZE_BATCH_CHARS;
  const chunkTokens = positiveInt('chunkTokens', opts.chunkTokens) ?? DATASET_LIMITS.TOKEN_CHUNK_TOKENS;
  const interval = opts.progressIntervalMs ?? DATASET_LIMITS.PROGRESS_INTERVAL_MS;
  const cancelled = (): DatasetError => new DatasetError('cancelled', 'tokenization cancelled');
  if (opts.signal?.aborted) throw cancelled();

  await fs.mkdir(outDir, { recursive: true });
  const target = { tokens: path.join(outDir, TOKENS_FILE), docs: path.join(outDir, DOCS_FILE), stats: path.join(outDir, STATS_FILE), meta: path.join(outDir, META_FILE) };
  const tmp = { tokens: tempName(target.tokens), docs: tempName(target.docs) };
  const handles: FileHandle[] = [];
  try {
    const tokensHandle = await fs.open(tmp.tokens, 'wx');
    handles.push(tokensHandle);
    const docsHandle = await fs.open(tmp.docs, 'wx');
    handles.push(docsHandle);
    const tokens = new Uint32FileWriter(tokensHandle, chunkTokens);
    const offsets = new Uint64FileWriter(docsHandle, DATASET_LIMITS.DOC_CHUNK_OFFSETS);
    const stats = new StatsAccumulator(tokenizer.vocabSize);
    await offsets.push(0);

    let documents = 0;
    let emptyDocuments = 0;
    let truncated = false;
    let stop = false;
    let lastProgress = 0;
    const progress = (done: boolean): void => {
      if (!opts.onProgress) return;
      const now = Date.now();
      if (!done && now - lastProgress < interval) return;
      lastProgress = now;
      opts.onProgress({ documents, tokens: tokens.count, bytesRead: docs.bytesRead ?? 0, bytesTotal: docs.bytesTotal ?? 0, skippedRows: docs.skippedRows ?? 0, done });
    };

    let batch: string[] = [];
    let batchCharCount = 0;
    const flushBatch = async (): Promise<void> => {
      if (batch.length === 0) return;
      const encoded = tokenizer.encodeBatch(batch, { addBos, addEos });
      const texts = batch;
      batch = [];
      batchCharCount = 0;
      for (let i = 0; i < encoded.length; i++) {
        let ids = encoded[i]!;
        if (texts[i]!.length === 0 || ids.length === 0) {
          emptyDocuments++;
          continue;
        }
        if (maxTokens !== undefined && tokens.count + ids.length >= maxTokens) {
          // The document that reaches the limit is cut there; anything after it is input left over.
          if (tokens.count + ids.length > maxTokens || i < encoded.length - 1) truncated = true;
          ids = ids.subarray(0, maxTokens - tokens.count);
          stop = true;
        }
        await tokens.push(ids);
        stats.add(ids);
        documents++;
        await offsets.push(tokens.count);
        if (stop) break;
      }
      if (opts.signal?.aborted) throw cancelled();
      progress(false);
    };

    for await (const doc of docs) {
      if (opts.signal?.aborted) throw cancelled();
      if (stop) {
        truncated = true;
        break;
      }
      if (maxDocuments !== undefined && documents + batch.length >= maxDocuments) {
        // Empty texts in the batch may not count: settle the batch before deciding.
        await flushBatch();
        if (stop || documents >= maxDocuments) {
          truncated = true;
          break;
        }
      }
      batch.push(doc.text);
      batchCharCount += doc.text.length;
      if (batch.length >= batchDocs || batchCharCount >= batchChars) await flushBatch();
    }
    await flushBatch();
    if (opts.signal?.aborted) throw cancelled();
    await tokens.flush();
    await offsets.flush();
    await Promise.all(handles.map((h) => h.sync()));
    await Promise.all(handles.splice(0).map((h) => h.close()));

    const finalStats = stats.finish(tokenizer, opts.topK);
    const meta: DatasetMeta = {
      format: FORMAT_VERSION,
      tokenizer: {
        model: opts.model ?? path.basename(tokenizer.dir),
        vocabSize: tokenizer.vocabSize,
        bosId: tokenizer.bosId,
        eosId: tokenizer.eosId,
        bosToken: tokenizer.bosToken,
        eosToken: tokenizer.eosToken,
      },
      settings: { addBos, addEos, maxDocuments: maxDocuments ?? null, maxTokens: maxTokens ?? null },
      counts: { documents, tokens: tokens.count, emptyDocuments, skippedRows: docs.skippedRows ?? 0, bytesRead: docs.bytesRead ?? 0, truncated },
      files: {
        tokens: { name: TOKENS_FILE, dtype: 'uint32', byteOrder: 'little', count: tokens.count },
        docs: { name: DOCS_FILE, dtype: 'uint64', byteOrder: 'little', count: documents + 1 },
      },
      source: opts.source ?? {},
      createdAt: new Date().toISOString(),
    };
    // An earlier dataset's meta.json goes first: a crash among the renames leaves a folder without one (incomplete), never a mix that claims to be whole.
    await fs.rm(target.meta, { force: true });
    await fs.rename(tmp.tokens, target.tokens);
    await fs.rename(tmp.docs, target.docs);
    await writeJsonAtomic(target.stats, finalStats);
    await writeJsonAtomic(target.meta, meta);
    progress(true);
    return { dir: outDir, meta, stats: finalStats, maxBufferedTokens: tokens.maxBuffered };
  } catch (err) {
    await Promise.all(handles.map((h) => h.close().catch(() => {})));
    await Promise.all([fs.rm(tmp.tokens, { force: true }), fs.rm(tmp.docs, { force: true })]);
    if ((err as Error).name === 'AbortError' && opts.signal?.aborted) throw cancelled();
    throw err;
  }
}
