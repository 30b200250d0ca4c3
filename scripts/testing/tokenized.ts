/**
 * A small tokenized dataset for extraction tests: the first documents of the
 * demo dataset through the demo model's tokenizer (GPT-2 style: one
 * `<|endoftext|>`, id 0 = BOS = EOS, after each document).
 */
import path from 'node:path';
import type { Db } from '../../db/client.ts';
import { insertDataset, updateDataset, type DatasetRow } from '../../db/queries/datasets.ts';
import { DEMO_MODEL_ID } from '../../db/queries/models.ts';
import { openDocuments } from '../../models/datasets/sources.ts';
import { tokenizeDataset, type TokenizeResult } from '../../models/datasets/tokenize.ts';
import { DEMO_MODEL_DIR } from '../../models/model-files.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { ROOT } from './processes.ts';

export const DEMO_DATASET_FILE = path.join(ROOT, 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');

/** Tokenizes the demo dataset into `dir`, up to `maxTokens` tokens. */
export async function tokenizeDemo(dir: string, maxTokens: number): Promise<TokenizeResult> {
  const tokenizer = await loadTokenizer(DEMO_MODEL_DIR);
  return tokenizeDataset(await openDocuments([DEMO_DATASET_FILE]), tokenizer, dir, { maxTokens, model: 'tiny-gpt2-debian-6l', source: { file: path.basename(DEMO_DATASET_FILE) } });
}

/**
 * Records a tokenized folder as a completed dataset row (what a finished
 * `dataset.import` leaves), tokenized with the demo model's tokenizer.
 */
export async function insertCompletedDataset(db: Db, dir: string, t: TokenizeResult, name = 'demo slice'): Promise<DatasetRow> {
  const { meta } = t;
  const row = await insertDataset(db, {
    name,
    source: { kind: 'upload', fileName: path.basename(DEMO_DATASET_FILE), bytes: meta.counts.bytesRead },
    settings: { textColumn: 'text', textSplit: 'paragraph', onBadRow: 'error', addBos: meta.settings.addBos, addEos: meta.settings.addEos, maxDocuments: null, maxTokens: meta.settings.maxTokens },
    tokenizerModelId: DEMO_MODEL_ID,
    path: dir,
  });
  const stats = { ...t.stats, emptyDocuments: meta.counts.emptyDocuments, skippedRows: meta.counts.skippedRows, bytesRead: meta.counts.bytesRead, truncated: meta.counts.truncated };
  return (await updateDataset(db, row.id, { status: 'completed', stats, path: dir, sizeBytes: meta.counts.tokens * 4 }))!;
}
