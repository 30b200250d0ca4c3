/**
 * A small tokenized dataset for extraction tests: the first documents of the
 * demo dataset through the demo model's tokenizer (GPT-2 style: one
 * `<|endoftext|>`, id 0 = BOS = EOS, after each document).
 */
import path from 'node:path';
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
