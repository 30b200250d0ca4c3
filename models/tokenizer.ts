/**
 * Hugging Face tokenizers, loaded from a model folder: `tokenizer.json` (the
 * `tokenizers` library's full description: normalizer, pre-tokenizer, model,
 * post-processor, decoder, added tokens) plus, when present,
 * `tokenizer_config.json`, `special_tokens_map.json` and `config.json` for the
 * special tokens and the model's BOS/EOS policy.
 *
 * Encoding and decoding are done by `@huggingface/tokenizers` (pure JS). This
 * module adds what an interpretability workbench needs on top:
 *
 * - **BOS/EOS by rule, not by post-processor.** Text is always encoded without
 *   the post-processor's special tokens; BOS is then prepended when asked, or
 *   by default when the model adds one: `tokenizer_config.add_bos_token` when it
 *   is set (transformers rebuilds the Llama/Gemma post-processor from that flag),
 *   otherwise whether the post-processor (TemplateProcessing, also inside a
 *   Sequence; Bert/Roberta processing) starts with the BOS token. GPT-2 adds
 *   none; Llama and Gemma add `<s>`/`<bos>`. BOS is never doubled: a text whose
 *   own tokens already start with BOS (e.g. a literal `<s>`) gets no second
 *   one, and likewise for EOS. EOS is added only when asked.
 * - **Per-token display strings** ({@link Tokenizer.tokenStrings}) that undo the
 *   byte-level and SentencePiece encodings of the vocabulary, one token at a time.
 * - Typed-array results and a larger BPE memo for tokenizing datasets.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isObject, tokenizerFromJson, TokenizerError, type Json, type Tokenizer } from './tokenizer-core.ts';

export { decodeUtf8Lenient, TokenizerError, tokenizerFromJson, type EncodeOptions, type Tokenizer, type TokenizerFiles } from './tokenizer-core.ts';

/** Reads and parses a JSON object file; null when the file is absent and optional. */
async function readJson(file: string, required: boolean): Promise<Json | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return null;
    if (code === 'ENOENT') throw new TokenizerError(file, 'missing (a Hugging Face tokenizer.json is required)');
    throw new TokenizerError(file, `cannot be read (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw new TokenizerError(file, 'not a JSON object');
  return raw;
}

/**
 * Loads the tokenizer of a model folder. Requires `tokenizer.json`; reads
 * `tokenizer_config.json`, `special_tokens_map.json` and `config.json` when
 * present (special_tokens_map over tokenizer_config over config.json for
 * BOS/EOS/PAD, as transformers does). Throws
 * {@link TokenizerError} naming the file for a missing folder or
 * tokenizer.json, malformed JSON, or a tokenizer the library cannot build.
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TokenizerError(dir, code === 'ENOENT' ? 'no such model folder' : `cannot be read (${(err as Error).message})`);
  }
  if (!stat.isDirectory()) throw new TokenizerError(dir, 'not a folder (expected a model folder holding tokenizer.json)');
  const file = path.join(dir, 'tokenizer.json');
  const [tokenizerJson, tokenizerConfig, specialTokensMap, modelConfig] = await Promise.all([
    readJson(file, true) as Promise<Json>,
    readJson(path.join(dir, 'tokenizer_config.json'), false),
    readJson(path.join(dir, 'special_tokens_map.json'), false),
    readJson(path.join(dir, 'config.json'), false),
  ]);
  return tokenizerFromJson(dir, file, { tokenizerJson, tokenizerConfig, specialTokensMap, modelConfig });
}

/**
 * Whether two model folders tokenize alike: their `tokenizer.json` files are
 * the same bytes (so ids of one are ids of the other). False when either
 * cannot be read.
 */
export async function sameTokenizer(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const [x, y] = await Promise.all([fs.readFile(path.join(a, 'tokenizer.json')), fs.readFile(path.join(b, 'tokenizer.json'))]);
    return x.equals(y);
  } catch {
    return false;
  }
}
