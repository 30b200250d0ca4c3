/**
 * Hugging Face tokenizers built from the JSON of their files, with no file
 * system: the part of models/tokenizer.ts that the browser shares (the live
 * inspector tokenizes in the page, and must give the server's ids and display
 * strings). models/tokenizer.ts reads the files of a model folder and calls
 * {@link tokenizerFromJson}; see its header for the rules (BOS/EOS by rule,
 * per-token display strings, the BPE memo).
 *
 * Browser-safe: no Node imports.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { safeText } from './safe-text.ts';

export interface EncodeOptions {
  /** Prepend BOS when the model has one. Default: what the model's tokenizer does ({@link Tokenizer.addsBosByDefault}). */
  addBos?: boolean;
  /** Append EOS when the model has one. Default false. */
  addEos?: boolean;
}

export interface Tokenizer {
  /** The folder it was loaded from. */
  readonly dir: string;
  /** Size of the tokenizer's vocabulary including added tokens (largest id + 1). May be smaller than the model's embedding rows. */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly unkId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** Whether {@link encode} prepends BOS when `addBos` is not given. */
  readonly addsBosByDefault: boolean;
  /**
   * Token ids of text. addBos: prepend BOS when the model has one (default:
   * what the tokenizer's own post-processor / tokenizer_config `add_bos_token`
   * does; GPT-2 adds none). Never adds EOS unless asked. Never doubles a BOS or
   * EOS that the text's own tokens already begin or end with.
   */
  encode(text: string, opts?: EncodeOptions): Uint32Array;
  /** Many texts at once (same options), for tokenizing datasets quickly. */
  encodeBatch(texts: readonly string[], opts?: EncodeOptions): Uint32Array[];
  /**
   * Text of ids, as the tokenizer's decoder makes it (special tokens included
   * unless skipSpecial). Ids outside the vocabulary decode to '\uFFFD'.
   */
  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string;
  /**
   * Per-token display strings (byte-level BPE 'Ġ' → ' ', 'Ċ' → '\n',
   * SentencePiece '▁' → ' ', byte-fallback tokens <0x0A> → the byte). Each
   * token is shown on its own: bytes of a UTF-8 sequence that the token holds
   * only part of are shown as hex escapes (`\xE4`), so for text whose
   * characters never straddle tokens the strings join back to the text. Added
   * and special tokens show as their content; ids outside the vocabulary as
   * '\uFFFD'. NUL shows as '␀' and a lone surrogate as '\uFFFD'
   * (models/safe-text.ts), so a display string can be stored. Never throws.
   */
  tokenStrings(ids: ArrayLike<number>): string[];
  /** The vocabulary entry of id (raw, e.g. 'Ġthe' or '▁the'), or null. */
  idToToken(id: number): string | null;
  /** The id of a vocabulary entry (raw form, or an added token's content), or null. */
  tokenToId(token: string): number | null;
  /** Whether id is a special added token (BOS, EOS, padding, control tokens). */
  isSpecial(id: number): boolean;
}

/** A missing or malformed tokenizer file; the message names the file and what is wrong. */
export class TokenizerError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'TokenizerError';
  }
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A special token as tokenizer_config / special_tokens_map write it: a string or `{content: ...}`. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}

/** config.json's `*_token_id`: a number or a list (Llama 3.1 lists several EOS ids; the first is taken). */
function configId(config: Json | null, key: string): number | null {
  if (!config) return null;
  for (const c of [config, config.text_config]) {
    if (!isObject(c)) continue;
    const v = c[key];
    if (Number.isSafeInteger(v)) return v as number;
    if (Array.isArray(v) && Number.isSafeInteger(v[0])) return v[0] as number;
  }
  return null;
}

/** Ids a post-processor puts before the text of a single sequence. */
function postProcessorPrefix(pp: unknown, tokenToId: (t: string) => number | null): number[] {
  if (!isObject(pp)) return [];
  switch (pp.type) {
    case 'Sequence':
      return (Array.isArray(pp.processors) ? pp.processors : []).flatMap((p) => postProcessorPrefix(p, tokenToId));
    case 'TemplateProcessing': {
      const out: number[] = [];
      const specials = isObject(pp.special_tokens) ? pp.special_tokens : {};
      for (const item of Array.isArray(pp.single) ? pp.single : []) {
        if (!isObject(item)) continue;
        if ('Sequence' in item) break;
        const st = item.SpecialToken;
        if (!isObject(st) || typeof st.id !== 'string') continue;
        const entry = specials[st.id];
        if (isObject(entry) && Array.isArray(entry.ids) && entry.ids.every((i) => Number.isSafeInteger(i))) out.push(...(entry.ids as number[]));
        else {
          const id = tokenToId(st.id);
          if (id !== null) out.push(id);
        }
      }
      return out;
    }
    case 'BertProcessing':
    case 'RobertaProcessing': {
      const cls = pp.cls;
      return Array.isArray(cls) && Number.isSafeInteger(cls[1]) ? [cls[1] as number] : [];
    }
    default:
      return [];
  }
}

/** Every component of a (possibly nested Sequence) decoder / pre-tokenizer / normalizer config. */
function components(cfg: unknown): Json[] {
  if (!isObject(cfg)) return [];
  const nested = cfg.decoders ?? cfg.pretokenizers ?? cfg.normalizers;
  if (cfg.type === 'Sequence' && Array.isArray(nested)) return nested.flatMap(components);
  return [cfg];
}

/** GPT-2's byte ↔ printable-character table, as a char code → byte map. */
const BYTE_OF_CHAR: Map<number, number> = (() => {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const map = new Map<number, number>(bytes.map((b) => [b, b]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(256 + n++, b);
  return map;
})();

const encoder = new TextEncoder();

function hex(b: number): string {
  return `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** UTF-8 bytes to text, showing each byte of an invalid or incomplete sequence as `\xHH`. */
export function decodeUtf8Lenient(bytes: ArrayLike<number>): string {
  let out = '';
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    let min = 0;
    if (b >= 0xc2 && b <= 0xdf) [need, cp, min] = [1, b & 0x1f, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, cp, min] = [2, b & 0x0f, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, cp, min] = [3, b & 0x07, 0x10000];
    let ok = need > 0 && i + need < n;
    if (ok) {
      for (let k = 1; k <= need; k++) {
        const c = bytes[i + k];
        if (c === undefined || (c & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (c & 0x3f);
      }
    }
    if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
      out += String.fromCodePoint(cp);
      i += need + 1;
    } else {
      out += hex(b);
      i++;
    }
  }
  return out;
}

/**
 * The BPE model's memo (pre-token → pieces) in @huggingface/tokenizers 0.2.0 is
 * an LRU that deletes and re-inserts its Map entry on every hit, which is about
 * half of the encoding time. A plain Map emptied when full gives the same
 * results ~2-3× faster on a warm dataset. Installed only where the model has
 * such a cache.
 */
class BoundedMemo<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  put(key: string, value: V): void {
    if (this.map.size >= this.capacity) this.map.clear();
    this.map.set(key, value);
  }
  clear(): void {
    this.map.clear();
  }
}

const BPE_MEMO_ENTRIES = 200_000;

/**
 * The {@link Tokenizer} of a built @huggingface/tokenizers object and the
 * JSON files it came from (tokenizer.json, and the optional
 * tokenizer_config.json, special_tokens_map.json and config.json).
 */
function hfBackedTokenizer(dir: string, hf: HfTokenizer, tokenizerJson: Json, tokenizerConfig: Json | null, specialTokensMap: Json | null, modelConfig: Json | null): Tokenizer {
  const model = hf.model;
  const vocab: readonly (string | undefined)[] = model ? model.vocab : [];
  const added = new Map<number, { content: string; special: boolean }>();
  let maxId = vocab.length - 1;
  for (const t of Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : []) {
    if (!isObject(t) || !Number.isSafeInteger(t.id) || typeof t.content !== 'string') continue;
    added.set(t.id as number, { content: t.content, special: t.special === true });
    maxId = Math.max(maxId, t.id as number);
  }
  const vocabSize = maxId + 1;

  const idToToken = (id: number): string | null => {
    if (!Number.isInteger(id) || id < 0) return null;
    return added.get(id)?.content ?? vocab[id] ?? null;
  };
  const tokenToId = (token: string): number | null => hf.token_to_id(token) ?? null;

  const special = (key: string, idKey: string): [string | null, number | null] => {
    // transformers lets special_tokens_map.json override tokenizer_config.json; config.json ids come last.
    for (const src of [specialTokensMap, tokenizerConfig]) {
      if (!src || !(key in src)) continue;
      const content = tokenContent(src[key]);
      if (content === null) return [null, null]; // explicitly none (e.g. "pad_token": null)
      const id = tokenToId(content);
      return id === null ? [null, null] : [content, id];
    }
    const id = configId(modelConfig, idKey);
    const token = id === null ? null : idToToken(id);
    return token === null ? [null, null] : [token, id];
  };
  let [bosToken, bosId] = special('bos_token', 'bos_token_id');
  const [eosToken, eosId] = special('eos_token', 'eos_token_id');
  const padId = special('pad_token', 'pad_token_id')[1];
  const unkId = special('unk_token', 'unk_token_id')[1] ?? (model?.unk_token_id ?? null);

  const prefix = postProcessorPrefix(tokenizerJson.post_processor, tokenToId);
  // A tokenizer.json alone (no config files) still tells its BOS: the one token its post-processor prepends.
  if (bosId === null && prefix.length === 1) {
    bosId = prefix[0]!;
    bosToken = idToToken(bosId);
  }
  const configAddBos = tokenizerConfig && typeof tokenizerConfig.add_bos_token === 'boolean' ? tokenizerConfig.add_bos_token : null;
  const addsBosByDefault = bosId !== null && (configAddBos ?? prefix[0] === bosId);

  const decoders = components(tokenizerJson.decoder);
  const types = new Set(decoders.map((d) => d.type));
  const preTokenizers = components(tokenizerJson.pre_tokenizer);
  const byteLevel = types.has('ByteLevel') || (decoders.length === 0 && preTokenizers.some((p) => p.type === 'ByteLevel'));
  const modelCfg = isObject(tokenizerJson.model) ? tokenizerJson.model : {};
  const byteFallback = types.has('ByteFallback') || modelCfg.byte_fallback === true;
  const replacements: [string, string][] = [];
  for (const d of decoders) {
    if (d.type === 'Replace' && isObject(d.pattern) && typeof d.pattern.String === 'string' && typeof d.content === 'string') {
      replacements.push([d.pattern.String, d.content]);
    } else if (d.type === 'Metaspace') {
      replacements.push([typeof d.replacement === 'string' ? d.replacement : '\u2581', ' ']);
    }
  }
  if (decoders.length === 0 && [...preTokenizers, ...components(tokenizerJson.normalizer)].some((c) => c.type === 'Metaspace' || (c.type === 'Replace' && c.content === '\u2581'))) {
    replacements.push(['\u2581', ' ']);
  }

  const bpe = model as unknown as { cache?: { get?: unknown; put?: unknown; clear?: unknown } } | null;
  if (bpe && isObject(bpe.cache) && typeof bpe.cache.get === 'function' && typeof bpe.cache.put === 'function') {
    bpe.cache = new BoundedMemo<string[]>(BPE_MEMO_ENTRIES);
  }

  const encode = (text: string, opts: EncodeOptions = {}): Uint32Array => {
    const ids = hf.encode(text, { add_special_tokens: false }).ids;
    const bos = (opts.addBos ?? addsBosByDefault) && bosId !== null && ids[0] !== bosId;
    const eos = opts.addEos === true && eosId !== null && (ids.length === 0 || ids[ids.length - 1] !== eosId);
    const out = new Uint32Array(ids.length + (bos ? 1 : 0) + (eos ? 1 : 0));
    if (bos) out[0] = bosId!;
    out.set(ids, bos ? 1 : 0);
    if (eos) out[out.length - 1] = eosId!;
    return out;
  };

  const valid = (id: number): boolean => Number.isInteger(id) && id >= 0 && id < vocabSize && (vocab[id] !== undefined || added.has(id));

  const display: (string | undefined)[] = [];
  const tokenString = (id: number): string => {
    if (!valid(id)) return '\uFFFD';
    const cached = display[id];
    if (cached !== undefined) return cached;
    let s: string;
    const addedToken = added.get(id);
    const token = vocab[id];
    if (addedToken || token === undefined) s = addedToken?.content ?? '\uFFFD';
    else if (byteFallback && /^<0x[0-9A-Fa-f]{2}>$/.test(token)) s = decodeUtf8Lenient([parseInt(token.slice(3, 5), 16)]);
    else if (byteLevel) {
      const bytes: number[] = [];
      for (const ch of token) {
        const b = BYTE_OF_CHAR.get(ch.codePointAt(0)!);
        if (b !== undefined) bytes.push(b);
        else bytes.push(...encoder.encode(ch));
      }
      s = decodeUtf8Lenient(bytes);
    } else {
      s = token;
      for (const [from, to] of replacements) s = s.replaceAll(from, to);
    }
    // NUL (byte-level 'Ā') shows as ␀ and a lone surrogate as �, as they are stored (models/safe-text.ts)
    s = safeText(s);
    display[id] = s;
    return s;
  };

  return {
    dir,
    vocabSize,
    bosId,
    eosId,
    padId,
    unkId,
    bosToken,
    eosToken,
    addsBosByDefault,
    encode,
    encodeBatch: (texts, opts = {}) => texts.map((t) => encode(t, opts)),
    decode(ids, opts = {}) {
      const options = { skip_special_tokens: opts.skipSpecial === true };
      const list = Array.from(ids);
      if (list.every(valid)) return list.length === 0 ? '' : hf.decode(list, options);
      // Ids the vocabulary lacks (e.g. padded embedding rows) show as U+FFFD between decoded runs.
      let out = '';
      let run: number[] = [];
      for (const id of list) {
        if (valid(id)) run.push(id);
        else {
          if (run.length) out += hf.decode(run, options);
          run = [];
          out += '\uFFFD';
        }
      }
      if (run.length) out += hf.decode(run, options);
      return out;
    },
    tokenStrings(ids) {
      const out = new Array<string>(ids.length);
      for (let i = 0; i < ids.length; i++) out[i] = tokenString(ids[i]!);
      return out;
    },
    idToToken,
    tokenToId,
    isSpecial: (id) => added.get(id)?.special === true,
  };
}

/** The JSON files a tokenizer is built from: tokenizer.json, and the optional tokenizer_config.json, special_tokens_map.json and config.json. */
export interface TokenizerFiles {
  tokenizerJson: Json;
  tokenizerConfig: Json | null;
  specialTokensMap: Json | null;
  modelConfig: Json | null;
}

/**
 * Builds the {@link Tokenizer} of parsed tokenizer files. `dir` is what the
 * tokenizer reports as its folder; `file` names tokenizer.json in errors.
 * Throws {@link TokenizerError} for a tokenizer.json the library cannot build
 * or use.
 */
export function tokenizerFromJson(dir: string, file: string, files: TokenizerFiles): Tokenizer {
  const { tokenizerJson, tokenizerConfig, specialTokensMap, modelConfig } = files;
  if (!isObject(tokenizerJson.model)) throw new TokenizerError(file, 'has no "model" object');
  // The library wants every component key present (null when absent) and an added_tokens list.
  const json: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...tokenizerJson };
  if (!Array.isArray(json.added_tokens)) json.added_tokens = [];
  // Each added token becomes a vocabulary entry: one without a string content or an id would be a hole the library fills with anything.
  (json.added_tokens as unknown[]).forEach((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string' || !Number.isSafeInteger(t.id) || (t.id as number) < 0) {
      throw new TokenizerError(file, `added_tokens[${i}] must be {id: a non-negative integer, content: a string, ...}`);
    }
  });
  // The library cleans up " ." → "." etc. unless told otherwise; transformers' default is now not to.
  const config: Json = { ...(tokenizerConfig ?? {}) };
  config.clean_up_tokenization_spaces = tokenizerConfig?.clean_up_tokenization_spaces === true;
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (err) {
    throw new TokenizerError(file, `cannot be built (${(err as Error).message})`);
  }
  try {
    const tokenizer = hfBackedTokenizer(dir, hf, tokenizerJson, tokenizerConfig, specialTokensMap, modelConfig);
    // The library builds some malformed tokenizers (a post-processor template that is not a list) that then fail
    // on every text: find out here, with the file named, rather than in the middle of a dataset import.
    tokenizer.decode(tokenizer.encode('Loupe probe: text, 123 é 日本 😀\n', { addBos: true, addEos: true }));
    return tokenizer;
  } catch (err) {
    throw new TokenizerError(file, `cannot be used (${(err as Error)?.message ?? String(err)})`);
  }
}
