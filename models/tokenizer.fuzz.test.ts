/**
 * The tokenizer.json fuzzer: a Llama (SentencePiece) and a GPT-2 style
 * (byte-level BPE) tokenizer, their tokenizer.json mutated with a fixed seed
 * (JSON values swapped for other types, dropped, duplicated or wrapped; bytes
 * flipped or cut), or their tokenizer_config.json mutated. Each case must load
 * and then encode, decode and show tokens of hostile texts and ids without an
 * error, or throw TokenizerError at load (the rules of a case:
 * scripts/testing/fuzz/cases.ts).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { caseDirs, FUZZ_SEED, ParserFuzz } from '../scripts/testing/fuzz/cases.ts';
import { applyBytes, applyJson, byteMutation, jsonMutation, type ByteMutation, type JsonMutation } from '../scripts/testing/fuzz/mutations.ts';
import { loadTokenizer, TokenizerError } from './tokenizer.ts';

const cases = caseDirs('loupe-tokenizer-fuzz-');
afterAll(cases.remove);

describe('parser fuzzer', () => {
  it('tokenizer.json: mutated tokenizers load and encode, decode and show tokens, or throw TokenizerError at load', async () => {
    const llama = JSON.parse(readFileSync(path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'llama-tiny', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const llamaConfig = readFileSync(path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'llama-tiny', 'tokenizer_config.json'), 'utf8');
    // A tiny byte-level BPE (GPT-2 style): the 256 byte symbols, a few merges, <|endoftext|>.
    const byteSymbols: string[] = [];
    {
      const printable: number[] = [];
      for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
      for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
      for (let b = 0xae; b <= 0xff; b++) printable.push(b);
      let n = 0;
      for (let b = 0; b < 256; b++) byteSymbols[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + n++);
    }
    const vocab: Record<string, number> = Object.fromEntries(byteSymbols.map((s, i) => [s, i]));
    const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n']];
    for (const [a, b] of merges) vocab[a! + b!] = Object.keys(vocab).length;
    vocab['<|endoftext|>'] = Object.keys(vocab).length;
    const gpt2 = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [vocab['<|endoftext|>']], tokens: ['<|endoftext|>'] } } },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
    };
    const TEXTS = ['Hello world', 'the thin thing', '', ' ', '\u0000', 'a\ud800b', '😀 日本語 e\u0301', '<s> </s> <|endoftext|>', 'x'.repeat(2000), '\n\n\t'];
    const exercise = async (dir: string) => {
      const tok = await loadTokenizer(dir);
      for (const text of TEXTS) {
        const ids = tok.encode(text);
        tok.encode(text, { addBos: true, addEos: true });
        tok.decode(ids);
        tok.decode(ids, { skipSpecial: true });
        tok.tokenStrings(ids);
      }
      const odd = [-1, 0, 1, tok.vocabSize - 1, tok.vocabSize, tok.vocabSize + 1000, 2 ** 31, 0.5, NaN];
      tok.decode(odd);
      tok.tokenStrings(odd);
      for (const id of odd) {
        tok.idToToken(id);
        tok.isSpecial(id);
      }
      tok.encodeBatch(TEXTS.slice(0, 3));
    };
    // Both bases work before they are mutated.
    for (const [name, json] of [['llama', llama], ['gpt2', gpt2]] as const) {
      const d = cases.next();
      writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(json));
      if (name === 'llama') writeFileSync(path.join(d, 'tokenizer_config.json'), llamaConfig);
      await exercise(d);
    }

    type TokCase = { base: 'llama' | 'gpt2'; kind: 'json'; ms: JsonMutation[] } | { base: 'llama' | 'gpt2'; kind: 'bytes'; ms: ByteMutation[] } | { base: 'llama' | 'gpt2'; kind: 'config'; ms: JsonMutation[] };
    const arb: fc.Arbitrary<TokCase> = fc.record({
      base: fc.constantFrom('llama' as const, 'gpt2' as const),
      kind: fc.constantFrom('json' as const, 'json' as const, 'json' as const, 'bytes' as const, 'config' as const),
      ms: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
      bms: fc.array(byteMutation, { minLength: 1, maxLength: 3 }),
    }).map((r) => (r.kind === 'bytes' ? { base: r.base, kind: 'bytes', ms: r.bms } : { base: r.base, kind: r.kind, ms: r.ms }) as TokCase);
    const sampled = fc.sample(arb, { seed: FUZZ_SEED + 1, numRuns: 600 });
    const fuzz = new ParserFuzz('tokenizer.json', 'tokenizer', (e) => e instanceof TokenizerError);
    for (const c of sampled) {
      const d = cases.next();
      const base = c.base === 'llama' ? llama : gpt2;
      let what: string;
      let text: Buffer;
      let config = c.base === 'llama' ? llamaConfig : undefined;
      if (c.kind === 'json') {
        const mutated = applyJson(base, c.ms);
        text = Buffer.from(JSON.stringify(mutated) ?? '');
        what = `${c.base} tokenizer.json with ${JSON.stringify(c.ms)}: ${String(JSON.stringify(mutated, (k, v: unknown) => (k === 'vocab' || k === 'merges' ? '…' : v))).slice(0, 500)}`;
      } else if (c.kind === 'bytes') {
        text = applyBytes(Buffer.from(JSON.stringify(base)), c.ms);
        what = `${c.base} tokenizer.json bytes ${JSON.stringify(c.ms)}`;
      } else {
        text = Buffer.from(JSON.stringify(base));
        config = JSON.stringify(applyJson({ add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: { content: '</s>' }, pad_token: null, unk_token: '<unk>', clean_up_tokenization_spaces: false, model_max_length: 2048 }, c.ms));
        what = `${c.base} tokenizer_config.json ${config}`;
      }
      writeFileSync(path.join(d, 'tokenizer.json'), text);
      if (config !== undefined) writeFileSync(path.join(d, 'tokenizer_config.json'), config);
      await fuzz.case(what, () => exercise(d));
      rmSync(d, { recursive: true, force: true });
    }
    fuzz.expectClean({ okAbove: 0, refusedAbove: 0 });
  }, 60_000);
});
