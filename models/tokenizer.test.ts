import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeUtf8Lenient, loadTokenizer, TokenizerError } from './tokenizer.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = path.join(import.meta.dirname, '..');
const DEMO = path.join(ROOT, 'demo', 'models', 'tiny-gpt2-debian-6l');
const DATASET = path.join(ROOT, 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');
const LLAMA = path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'llama-tiny');

/** tokenStrings joined, with the `\xHH` escapes of split UTF-8 sequences turned back into their bytes. */
function unescapeJoin(strings: string[]): string {
  const bytes: number[] = [];
  for (const s of strings) {
    for (const part of s.split(/(\\x[0-9A-F]{2})/)) {
      if (/^\\x[0-9A-F]{2}$/.test(part)) bytes.push(parseInt(part.slice(2), 16));
      else bytes.push(...Buffer.from(part, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A copy of the llama-tiny fixture with files replaced (null: removed). */
function llamaVariant(name: string, files: Record<string, unknown>): string {
  const d = path.join(dir, name);
  cpSync(LLAMA, d, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    if (content === null) rmSync(path.join(d, file));
    else writeFileSync(path.join(d, file), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return d;
}

const VARIED =
  'Héllo wörld! Ünïcödé — “quotes” ÆØÅ ß; Ελληνικά, Русский, 日本語のテキスト, 中文, 한국어, العربية, עברית, हिन्दी, ไทย\n' +
  'emoji 😀👍🏽👨‍👩‍👧‍👦 🇫🇷 ❤️ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\n' +
  '\tcode: `const x = a?.b ?? [1, 2];` // "double" \'single\' {braces} <tags/> $PATH 3.14e-10 0xFF\r\n' +
  '    indented\n\n\n  trailing spaces   \u00a0nbsp\u200bzwsp\u3000ideographic space  \n';

describe('tokenizer: GPT-2 demo model (byte-level BPE)', async () => {
  const tok = await loadTokenizer(DEMO);
  const reference = JSON.parse(readFileSync(path.join(DEMO, 'reference.json'), 'utf8')) as { prompts: { name: string; text: string; input_ids: number[] }[] };

  it('reads the special tokens: <|endoftext|> is bos, eos and unk; no BOS added', () => {
    expect(tok.vocabSize).toBe(8192);
    expect([tok.bosId, tok.eosId, tok.unkId, tok.padId]).toEqual([0, 0, 0, null]);
    expect([tok.bosToken, tok.eosToken]).toEqual(['<|endoftext|>', '<|endoftext|>']);
    expect(tok.addsBosByDefault).toBe(false);
    expect(tok.isSpecial(0)).toBe(true);
    expect(tok.isSpecial(265)).toBe(false);
  });

  it('encodes the reference prompts to exactly the ids HF tokenizers gave, and decodes them back', () => {
    expect(reference.prompts.length).toBe(3);
    for (const p of reference.prompts) {
      const ids = tok.encode(p.text);
      expect(ids).toBeInstanceOf(Uint32Array);
      expect([...ids], p.name).toEqual(p.input_ids);
      expect(tok.decode(ids)).toBe(p.text);
      expect(tok.tokenStrings(ids).join('')).toBe(p.text);
    }
  });

  it('adds BOS/EOS only when asked, never doubled', () => {
    const text = reference.prompts[0]!.text;
    const ids = [...tok.encode(text)];
    expect([...tok.encode(text, { addBos: false })]).toEqual(ids);
    expect([...tok.encode(text, { addBos: true })]).toEqual([0, ...ids]);
    expect([...tok.encode(text, { addEos: true })]).toEqual([...ids, 0]);
    expect([...tok.encode(text, { addBos: true, addEos: true })]).toEqual([0, ...ids, 0]);
    expect([...tok.encode(`<|endoftext|>${text}`, { addBos: true })]).toEqual([0, ...ids]); // a literal BOS is the BOS
    expect([...tok.encode('', { addBos: true, addEos: true })]).toEqual([0, 0]);
    expect(tok.encode('').length).toBe(0);
    expect(tok.decode([0, ...ids, 0])).toBe(`<|endoftext|>${text}<|endoftext|>`);
    expect(tok.decode([0, ...ids, 0], { skipSpecial: true })).toBe(text);
  });

  it('round-trips multilingual, emoji, code and whitespace text', () => {
    const ids = tok.encode(VARIED);
    expect(tok.decode(ids)).toBe(VARIED);
    const strings = tok.tokenStrings(ids);
    expect(strings.length).toBe(ids.length);
    expect(unescapeJoin(strings)).toBe(VARIED); // escapes only stand for bytes of characters split across tokens
    expect(strings.some((s) => s.includes('\\x'))).toBe(true); // this 8k vocab splits most non-ASCII characters
    const ascii = 'def f(x):\n\treturn {"a": [x, x ** 2]}  # comment\r\n\n   end  ';
    expect(tok.decode(tok.encode(ascii))).toBe(ascii);
    expect(tok.tokenStrings(tok.encode(ascii)).join('')).toBe(ascii);
    // Many texts at once give the same as one at a time.
    expect(tok.encodeBatch([VARIED, ascii, '']).map((a) => [...a])).toEqual([[...ids], [...tok.encode(ascii)], []]);
    // Lone surrogates cannot be UTF-8; they encode (as U+FFFD) without throwing.
    expect(tok.decode(tok.encode('a\ud800b'))).toBe('a\ufffdb');
  });

  it('shows tokens one by one: Ġ → space, Ċ → newline, split characters as hex escapes', () => {
    expect(tok.idToToken(265)).toBe('Ġthe');
    expect(tok.tokenToId('Ġthe')).toBe(265);
    expect(tok.tokenToId('<|endoftext|>')).toBe(0);
    expect(tok.tokenToId('no such token')).toBeNull();
    expect(tok.idToToken(8192)).toBeNull();
    expect(tok.idToToken(-1)).toBeNull();
    const nl = tok.tokenToId('Ċ')!;
    expect(tok.tokenStrings([265, nl, 0])).toEqual([' the', '\n', '<|endoftext|>']);
    expect([...tok.encode('日')]).toEqual([163, 246, 99]);
    expect(tok.tokenStrings([163, 246, 99])).toEqual(['\\xE6', '\\x97', '\\xA5']);
    expect(tok.tokenStrings([8192, -1, 1.5])).toEqual(['\uFFFD', '\uFFFD', '\uFFFD']);
    // byte 0 ('Ā') decodes to NUL, which PostgreSQL cannot store and a screen does not show: displayed as ␀
    expect(tok.idToToken(189)).toBe('Ā');
    expect(tok.tokenStrings([189])).toEqual(['␀']);
    expect(tok.decode([189])).toBe('\u0000');
    expect(tok.decode([265, 99999, 265])).toBe(' the\uFFFD the');
    expect(tok.decode([])).toBe('');
  });

  it('encodes the demo dataset: the first 200 documents round-trip, and the whole file counts what HF counted', () => {
    const docs = readFileSync(DATASET, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => (JSON.parse(l) as { text: string }).text);
    expect(docs.length).toBe(1272);
    const first = docs.slice(0, 200);
    const encoded = tok.encodeBatch(first);
    for (let i = 0; i < first.length; i++) {
      expect(encoded[i]!.length).toBeGreaterThan(0);
      expect(tok.decode(encoded[i]!), `document ${i}`).toBe(first[i]);
    }
    // training_log.json: the held-out set was 716,294 tokens with HF tokenizers, one <|endoftext|> per document included.
    const log = JSON.parse(readFileSync(path.join(DEMO, 'training_log.json'), 'utf8')) as { data: { val_tokens: number } };
    const total = tok.encodeBatch(docs, { addEos: true }).reduce((n, ids) => n + ids.length, 0);
    expect(total).toBe(log.data.val_tokens);
  });
});

describe('tokenizer: Llama-style SentencePiece BPE with byte fallback (fixture)', async () => {
  const tok = await loadTokenizer(LLAMA);
  // Ids by hand from the fixture: <unk> 0, <s> 1, </s> 2, <0xHH> 3 + HH, ▁ 259, h 260, ..., ! 267, ▁h 268,
  // ll 269, ▁he 270, ▁hell 271, ▁hello 272, ▁w 273, or 274, ld 275, ▁wor 276, ▁world 277.
  // "hello world" normalizes to "▁hello▁world"; the merges (▁ h), (l l), (▁h e), (▁he ll), (▁hell o), (▁ w),
  // (o r), (l d), (▁w or), (▁wor ld) applied by rank leave ▁hello ▁world.

  it('reads the special tokens (bos_token given as an AddedToken object)', () => {
    expect(tok.vocabSize).toBe(278);
    expect([tok.bosId, tok.eosId, tok.unkId, tok.padId]).toEqual([1, 2, 0, null]);
    expect([tok.bosToken, tok.eosToken]).toEqual(['<s>', '</s>']);
    expect(tok.addsBosByDefault).toBe(true);
  });

  it('prepends <s> by default, strips it with addBos: false, appends </s> only when asked', () => {
    expect([...tok.encode('hello world')]).toEqual([1, 272, 277]);
    expect([...tok.encode('hello world', { addBos: true })]).toEqual([1, 272, 277]);
    expect([...tok.encode('hello world', { addBos: false })]).toEqual([272, 277]);
    expect([...tok.encode('hello world', { addEos: true })]).toEqual([1, 272, 277, 2]);
    expect([...tok.encode('hello world!', { addBos: false, addEos: true })]).toEqual([272, 277, 267, 2]);
    expect([...tok.encode('<s>hello')]).toEqual([1, 272]); // no second BOS
    expect([...tok.encode('')]).toEqual([1]);
    expect(tok.encodeBatch(['hello world', 'hello'], { addBos: false }).map((a) => [...a])).toEqual([[272, 277], [272]]);
  });

  it('falls back to bytes for characters not in the vocabulary', () => {
    // 中 = E4 B8 AD; i = 0x69; \n = 0x0A.
    expect([...tok.encode('hello 中')]).toEqual([1, 272, 259, 3 + 0xe4, 3 + 0xb8, 3 + 0xad]);
    expect([...tok.encode('hi')]).toEqual([1, 268, 3 + 0x69]);
    expect([...tok.encode('hello\nworld')]).toEqual([1, 272, 3 + 0x0a, 264, 274, 275]);
    expect(tok.decode([1, 272, 259, 231, 187, 176])).toBe('<s> hello 中');
    expect(tok.decode([1, 272, 259, 231, 187, 176], { skipSpecial: true })).toBe('hello 中');
    expect(tok.decode(tok.encode('hello\nworld'), { skipSpecial: true })).toBe('hello\nworld');
  });

  it('shows ▁ as a space, byte tokens as their byte or a hex escape', () => {
    expect(tok.tokenStrings(tok.encode('hello 中'))).toEqual(['<s>', ' hello', ' ', '\\xE4', '\\xB8', '\\xAD']);
    expect(tok.tokenStrings(tok.encode('hello\nworld!'))).toEqual(['<s>', ' hello', '\n', 'w', 'or', 'ld', '!']);
    expect(tok.idToToken(272)).toBe('\u2581hello');
    expect(tok.tokenToId('<0x0A>')).toBe(13);
    expect(tok.tokenToId('</s>')).toBe(2);
  });

  it('takes BOS policy from tokenizer_config.add_bos_token over the post-processor', () => {
    return Promise.all([
      // add_bos_token false although the template adds <s> (transformers rebuilds the template from the flag).
      loadTokenizer(llamaVariant('no-bos', { 'tokenizer_config.json': { add_bos_token: false, bos_token: '<s>', eos_token: '</s>' } })).then((t) => {
        expect(t.addsBosByDefault).toBe(false);
        expect([...t.encode('hello world')]).toEqual([272, 277]);
        expect([...t.encode('hello world', { addBos: true })]).toEqual([1, 272, 277]);
      }),
      // Gemma-style: the flag says BOS although tokenizer.json has no post-processor.
      loadTokenizer(
        llamaVariant('flag-only', {
          'tokenizer.json': { ...(JSON.parse(readFileSync(path.join(LLAMA, 'tokenizer.json'), 'utf8')) as object), post_processor: null },
        }),
      ).then((t) => {
        expect(t.addsBosByDefault).toBe(true);
        expect([...t.encode('hello world')]).toEqual([1, 272, 277]);
      }),
      // tokenizer.json alone: BOS is what the template prepends; config.json gives EOS (first of a list), special_tokens_map the padding.
      loadTokenizer(
        llamaVariant('json-only', { 'tokenizer_config.json': null, 'config.json': { eos_token_id: [2, 0] }, 'special_tokens_map.json': { pad_token: '</s>' } }),
      ).then((t) => {
        expect([t.bosId, t.bosToken, t.eosId, t.eosToken, t.padId]).toEqual([1, '<s>', 2, '</s>', 2]);
        expect([...t.encode('hello world', { addEos: true })]).toEqual([1, 272, 277, 2]);
      }),
    ]);
  });
});

describe('tokenizer: errors name the file', () => {
  it('a missing folder', async () => {
    const missing = path.join(dir, 'nope');
    await expect(loadTokenizer(missing)).rejects.toThrow(TokenizerError);
    await expect(loadTokenizer(missing)).rejects.toThrow(`${missing}: no such model folder`);
  });

  it('a file instead of a folder', async () => {
    await expect(loadTokenizer(path.join(LLAMA, 'tokenizer.json'))).rejects.toThrow(/not a folder/);
  });

  it('a missing tokenizer.json', async () => {
    const d = path.join(dir, 'empty');
    mkdirSync(d);
    writeFileSync(path.join(d, 'config.json'), '{}');
    const err = await loadTokenizer(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).file).toBe(path.join(d, 'tokenizer.json'));
    expect((err as Error).message).toMatch(/tokenizer\.json: missing/);
  });

  it('malformed JSON in tokenizer.json or a config file', async () => {
    await expect(loadTokenizer(llamaVariant('bad-json', { 'tokenizer.json': '{"model": {' }))).rejects.toThrow(/tokenizer\.json: not valid JSON/);
    await expect(loadTokenizer(llamaVariant('bad-config', { 'tokenizer_config.json': 'nope' }))).rejects.toThrow(/tokenizer_config\.json: not valid JSON/);
    await expect(loadTokenizer(llamaVariant('array', { 'tokenizer.json': '[]' }))).rejects.toThrow(/tokenizer\.json: not a JSON object/);
    await expect(loadTokenizer(llamaVariant('no-model', { 'tokenizer.json': '{}' }))).rejects.toThrow(/tokenizer\.json: has no "model" object/);
    await expect(loadTokenizer(llamaVariant('bad-model', { 'tokenizer.json': { model: { type: 'Nope' } } }))).rejects.toThrow(/tokenizer\.json: cannot be built/);
  });
});

describe('decodeUtf8Lenient', () => {
  it('decodes valid UTF-8 and escapes the bytes of invalid or incomplete sequences', () => {
    expect(decodeUtf8Lenient([0x61, 0xe4, 0xb8, 0xad, 0xf0, 0x9f, 0x98, 0x80])).toBe('a中😀');
    expect(decodeUtf8Lenient([0xe4, 0xb8])).toBe('\\xE4\\xB8');
    expect(decodeUtf8Lenient([0xb8, 0x61])).toBe('\\xB8a');
    expect(decodeUtf8Lenient([0xc0, 0x80])).toBe('\\xC0\\x80'); // overlong
    expect(decodeUtf8Lenient([0xed, 0xa0, 0x80])).toBe('\\xED\\xA0\\x80'); // surrogate
    expect(decodeUtf8Lenient([0xf4, 0x90, 0x80, 0x80])).toBe('\\xF4\\x90\\x80\\x80'); // past U+10FFFF
    expect(decodeUtf8Lenient([])).toBe('');
  });
});
