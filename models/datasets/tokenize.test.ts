import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../tokenizer.ts';
import { DatasetError } from './errors.ts';
import { documentAt, openTokenStore, readDocOffsets, readMeta, type DatasetMeta } from './format.ts';
import { openDocuments, type SourceDocument } from './sources.ts';
import { computeStats, histogramEdges, readStats, type DatasetStats } from './stats.ts';
import { tokenizeDataset, type TokenizeProgress, type TokenizeResult } from './tokenize.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const DEMO_MODEL = path.join(ROOT, 'demo', 'models', 'tiny-gpt2-debian-6l');
const DEMO = path.join(ROOT, 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');
const LLAMA = path.join(ROOT, 'models', 'fixtures', 'tokenizers', 'llama-tiny');
const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-tokenize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const texts = readFileSync(DEMO, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => (JSON.parse(l) as { text: string }).text);

/** tokens.bin and docs.bin read whole, plainly (the test's own reader, independent of format.ts). */
function readBack(out: string): { tokens: Uint32Array; offsets: number[] } {
  const t = readFileSync(path.join(out, 'tokens.bin'));
  const d = readFileSync(path.join(out, 'docs.bin'));
  const tokens = new Uint32Array(t.length / 4);
  for (let i = 0; i < tokens.length; i++) tokens[i] = t.readUInt32LE(4 * i);
  const offsets: number[] = [];
  for (let i = 0; i < d.length; i += 8) offsets.push(Number(d.readBigUInt64LE(i)));
  return { tokens, offsets };
}

async function* fromArray(docs: string[]): AsyncGenerator<SourceDocument> {
  for (let i = 0; i < docs.length; i++) yield { text: docs[i]!, source: `mem:${i}` };
}

/** Statistics computed the plain way, from every document's ids. */
function referenceStats(docs: Uint32Array[], tok: Tokenizer, topK: number): Omit<DatasetStats, 'vocabSize'> {
  const lengths = docs.map((d) => d.length).sort((a, b) => a - b);
  const counts = new Map<number, number>();
  for (const d of docs) for (const id of d) counts.set(id, (counts.get(id) ?? 0) + 1);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  const q = (p: number): number => {
    const pos = p * (lengths.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, lengths.length - 1);
    return lengths[lo]! + (lengths[hi]! - lengths[lo]!) * (pos - lo);
  };
  const max = lengths[lengths.length - 1]!;
  const edges = [1, 2];
  while (edges[edges.length - 1]! <= max) edges.push(edges.length % 2 === 0 ? (edges[edges.length - 1]! * 3) / 2 : (edges[edges.length - 2]! * 2));
  const hist = edges.slice(0, -1).map((e, i) => lengths.filter((l) => l >= e && l < edges[i + 1]!).length);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, topK);
  return {
    documents: docs.length,
    tokens,
    uniqueTokens: counts.size,
    length: { min: lengths[0]!, max, mean: tokens / docs.length, median: q(0.5), p10: q(0.1), p90: q(0.9), p99: q(0.99) },
    histogram: { edges, counts: hist },
    topTokens: top.map(([id, count]) => ({ id, count, fraction: count / tokens, text: tok.tokenStrings([id])[0]!, special: tok.isSpecial(id) })),
  };
}

describe('tokenizeDataset: the demo dataset with the demo model (GPT-2 byte-level BPE)', () => {
  let tok: Tokenizer;
  let withEos: TokenizeResult;
  let withoutEos: TokenizeResult;
  let encoded: Uint32Array[];
  const progress: TokenizeProgress[] = [];
  const outEos = path.join(dir, 'demo-eos');
  const outPlain = path.join(dir, 'demo-plain');

  beforeAll(async () => {
    tok = await loadTokenizer(DEMO_MODEL);
    encoded = tok.encodeBatch(texts, { addEos: true });
    withEos = await tokenizeDataset(await openDocuments([DEMO]), tok, outEos, {
      model: 'tiny-gpt2-debian-6l',
      source: { upload: 'debian-english-mix-heldout.jsonl', textColumn: 'text' },
      chunkTokens: 65_536,
      progressIntervalMs: 0,
      onProgress: (p) => progress.push(p),
    });
    withoutEos = await tokenizeDataset(await openDocuments([DEMO]), tok, outPlain, { addEos: false, chunkTokens: 100_000 });
  }, 60_000);

  it('counts what HF tokenizers counted: 1,272 documents, 716,294 tokens with one EOS each, 715,022 without', () => {
    // training_log.json: the held-out set was 716,294 tokens with HF tokenizers, one <|endoftext|> per document.
    const log = JSON.parse(readFileSync(path.join(DEMO_MODEL, 'training_log.json'), 'utf8')) as { data: { val_tokens: number } };
    expect(withEos.meta.counts).toEqual({ documents: 1272, tokens: log.data.val_tokens, emptyDocuments: 0, skippedRows: 0, bytesRead: readFileSync(DEMO).length, truncated: false });
    expect(log.data.val_tokens).toBe(716_294);
    expect(withoutEos.meta.counts.documents).toBe(1272);
    expect(withoutEos.meta.counts.tokens).toBe(715_022);
    // Defaults for GPT-2: no BOS (the tokenizer adds none), so EOS separates documents.
    expect(withEos.meta.settings).toEqual({ addBos: false, addEos: true, maxDocuments: null, maxTokens: null });
    expect(withoutEos.meta.settings.addEos).toBe(false);
  });

  it('tokens.bin is encode() of each document back to back; docs.bin has its boundaries', () => {
    const { tokens, offsets } = readBack(outEos);
    expect(offsets.length).toBe(1273);
    expect(offsets[0]).toBe(0);
    expect(offsets[1272]).toBe(tokens.length);
    for (let d = 0; d < texts.length; d++) {
      const ids = tokens.subarray(offsets[d]!, offsets[d + 1]!);
      expect(ids, `document ${d}`).toEqual(encoded[d]);
      expect(ids[ids.length - 1]).toBe(tok.eosId);
      expect(tok.decode(ids, { skipSpecial: true }), `document ${d}`).toBe(texts[d]);
    }
    const plain = readBack(outPlain);
    for (let d = 0; d < texts.length; d += 97) expect(plain.tokens.subarray(plain.offsets[d]!, plain.offsets[d + 1]!)).toEqual(tok.encode(texts[d]!));
  });

  it('any token position maps back to its document and position in it', async () => {
    const offsets = await readDocOffsets(outEos);
    expect(Array.from(offsets)).toEqual(readBack(outEos).offsets);
    const { tokens } = readBack(outEos);
    for (const pos of [0, 1, 500, 123_456, 400_001, tokens.length - 1]) {
      const { document, position } = documentAt(offsets, pos);
      expect(encoded[document]![position], `position ${pos}`).toBe(tokens[pos]);
      expect(offsets[document]! + position).toBe(pos);
      expect(position).toBeLessThan(encoded[document]!.length);
    }
    expect(documentAt(offsets, offsets[5]!)).toEqual({ document: 5, position: 0 });
    expect(documentAt(offsets, offsets[6]! - 1)).toEqual({ document: 5, position: encoded[5]!.length - 1 });
    expect(() => documentAt(offsets, tokens.length)).toThrow(RangeError);
    expect(() => documentAt(offsets, -1)).toThrow(RangeError);
  });

  it('meta.json records the tokenizer, settings, counts, file layout and source', async () => {
    const meta: DatasetMeta = await readMeta(outEos);
    expect(meta).toEqual(withEos.meta);
    expect(meta.format).toBe('loupe.tokens/1');
    expect(meta.tokenizer).toEqual({ model: 'tiny-gpt2-debian-6l', vocabSize: 8192, bosId: 0, eosId: 0, bosToken: '<|endoftext|>', eosToken: '<|endoftext|>' });
    expect(meta.files).toEqual({
      tokens: { name: 'tokens.bin', dtype: 'uint32', byteOrder: 'little', count: 716_294 },
      docs: { name: 'docs.bin', dtype: 'uint64', byteOrder: 'little', count: 1273 },
    });
    expect(meta.source).toEqual({ upload: 'debian-english-mix-heldout.jsonl', textColumn: 'text' });
    expect(Number.isNaN(Date.parse(meta.createdAt))).toBe(false);
    expect(readdirSync(outEos).sort()).toEqual(['docs.bin', 'meta.json', 'stats.json', 'tokens.bin']); // no temporary file left
  });

  it('statistics equal a plain computation over every document, and a second pass over the files', async () => {
    const ref = referenceStats(encoded, tok, 50);
    expect(withEos.stats).toEqual({ ...ref, vocabSize: 8192 });
    expect(withEos.stats.topTokens[0]).toEqual({ id: 199, count: 44_621, fraction: 44_621 / 716_294, text: '\n', special: false });
    expect(withEos.stats.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1272);
    expect(await readStats(outEos)).toEqual(withEos.stats);
    expect(await computeStats(outEos, tok)).toEqual(withEos.stats);
    // Documents longer than the read chunk are counted as one document each.
    expect(await computeStats(outEos, tok, { chunkTokens: 100 })).toEqual(withEos.stats);
    expect(await computeStats(outEos, tok, { topK: 3 })).toEqual({ ...withEos.stats, topTokens: withEos.stats.topTokens.slice(0, 3) });
  });

  it('memory stays bounded: the write buffer never held more than its cap, yet wrote everything', () => {
    expect(withEos.maxBufferedTokens).toBe(65_536);
    expect(withoutEos.maxBufferedTokens).toBe(100_000);
    expect(readFileSync(path.join(outEos, 'tokens.bin')).length).toBe(716_294 * 4);
  });

  it('reports progress: documents, tokens and bytes rising to the totals, one final event', () => {
    expect(progress.length).toBeGreaterThan(3);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.tokens).toBeGreaterThanOrEqual(progress[i - 1]!.tokens);
      expect(progress[i]!.bytesRead).toBeGreaterThanOrEqual(progress[i - 1]!.bytesRead);
    }
    const last = progress[progress.length - 1]!;
    expect(last).toEqual({ documents: 1272, tokens: 716_294, bytesRead: 2_441_252, bytesTotal: 2_441_252, skippedRows: 0, done: true });
    expect(progress.filter((p) => p.done).length).toBe(1);
  });
});

describe('tokenizeDataset: settings, limits, cancel', () => {
  let gpt2: Tokenizer;
  let llama: Tokenizer;
  beforeAll(async () => {
    [gpt2, llama] = await Promise.all([loadTokenizer(DEMO_MODEL), loadTokenizer(LLAMA)]);
  });

  it('Llama-style tokenizers get BOS and no EOS by default; both can be set', async () => {
    const docs = ['hello world', 'hello', 'world!'];
    const a = await tokenizeDataset(fromArray(docs), llama, path.join(dir, 'llama-default'));
    expect(a.meta.settings).toMatchObject({ addBos: true, addEos: false });
    expect(Array.from(readBack(path.join(dir, 'llama-default')).tokens)).toEqual([1, 272, 277, 1, 272, 1, 277, 267]);
    const b = await tokenizeDataset(fromArray(docs), llama, path.join(dir, 'llama-both'), { addBos: true, addEos: true });
    expect(b.meta.settings).toMatchObject({ addBos: true, addEos: true });
    const { tokens, offsets } = readBack(path.join(dir, 'llama-both'));
    expect(offsets).toEqual([0, 4, 7, 11]);
    expect(Array.from(tokens.subarray(0, 4))).toEqual([1, 272, 277, 2]);
    const c = await tokenizeDataset(fromArray(docs), llama, path.join(dir, 'llama-none'), { addBos: false });
    expect(c.meta.settings).toMatchObject({ addBos: false, addEos: true }); // without BOS, EOS separates documents
    const d = await tokenizeDataset(fromArray(docs), gpt2, path.join(dir, 'gpt2-bos'), { addBos: true });
    expect(d.meta.settings).toMatchObject({ addBos: true, addEos: false });
    expect(readBack(path.join(dir, 'gpt2-bos')).tokens[0]).toBe(0);
  });

  it('empty documents are skipped and counted; maxDocuments stops early', async () => {
    const r = await tokenizeDataset(fromArray(['a', '', 'b', '', 'c', 'd']), gpt2, path.join(dir, 'empty'), { maxDocuments: 3, batchDocuments: 2 });
    expect(r.meta.counts).toMatchObject({ documents: 3, emptyDocuments: 2, truncated: true });
    expect(readBack(path.join(dir, 'empty')).offsets).toEqual([0, 2, 4, 6]);
    const exact = await tokenizeDataset(fromArray(['a', 'b', 'c']), gpt2, path.join(dir, 'exact'), { maxDocuments: 3 });
    expect(exact.meta.counts).toMatchObject({ documents: 3, truncated: false });
  });

  it('maxTokens cuts the document that reaches it', async () => {
    const r = await tokenizeDataset(await openDocuments([DEMO]), gpt2, path.join(dir, 'max-tokens'), { maxTokens: 10_000 });
    expect(r.meta.counts).toMatchObject({ tokens: 10_000, truncated: true });
    const { tokens, offsets } = readBack(path.join(dir, 'max-tokens'));
    expect(tokens.length).toBe(10_000);
    const n = r.meta.counts.documents;
    expect(offsets[n]).toBe(10_000);
    const full = gpt2.encodeBatch(texts.slice(0, n), { addEos: true });
    for (let d = 0; d < n - 1; d++) expect(tokens.subarray(offsets[d]!, offsets[d + 1]!)).toEqual(full[d]);
    expect(tokens.subarray(offsets[n - 1]!)).toEqual(full[n - 1]!.subarray(0, 10_000 - offsets[n - 1]!));
    await expect(tokenizeDataset(fromArray(['a']), gpt2, path.join(dir, 'bad'), { maxTokens: 0 })).rejects.toThrow(/maxTokens must be a positive integer/);
  });

  it('cancel mid-tokenization leaves no tokens.bin (nor temporary files), and an earlier dataset intact', async () => {
    const out = path.join(dir, 'cancelled');
    const ac = new AbortController();
    let seen = 0;
    const err = await tokenizeDataset(await openDocuments([DEMO]), gpt2, out, {
      signal: ac.signal,
      batchDocuments: 16,
      chunkTokens: 4096, // so some tokens have been written to the temporary file when it stops
      progressIntervalMs: 0,
      onProgress: (p) => {
        seen = p.tokens;
        if (p.documents >= 400) ac.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).code).toBe('cancelled');
    expect(seen).toBeGreaterThan(4096);
    expect(readdirSync(out)).toEqual([]);

    // Over an earlier complete dataset: it survives a cancelled re-run untouched.
    const keep = path.join(dir, 'llama-default');
    const before = readdirSync(keep).map((f) => [f, readFileSync(path.join(keep, f)).toString('hex')]);
    const ac2 = new AbortController();
    ac2.abort();
    await expect(tokenizeDataset(fromArray(['x']), llama, keep, { signal: ac2.signal })).rejects.toThrow(/cancelled/);
    const ac3 = new AbortController();
    const failing = (async function* () {
      yield { text: 'hello', source: 'a' };
      ac3.abort();
      yield { text: 'world', source: 'b' };
    })();
    await expect(tokenizeDataset(failing, llama, keep, { signal: ac3.signal })).rejects.toThrow(/cancelled/);
    expect(readdirSync(keep).map((f) => [f, readFileSync(path.join(keep, f)).toString('hex')])).toEqual(before);
  });

  it('a reader error stops it the same way, naming the bad row', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"text": "fine"}\n{"text": oops}\n');
    const out = path.join(dir, 'bad-out');
    await expect(tokenizeDataset(await openDocuments([bad]), gpt2, out)).rejects.toThrow('bad.jsonl: line 2: not valid JSON');
    expect(readdirSync(out)).toEqual([]);
  });

  it('openTokenStore refuses files that do not match meta.json; a folder without meta.json is incomplete', async () => {
    const out = path.join(dir, 'llama-both');
    const copy = path.join(dir, 'broken');
    mkdirSync(copy);
    for (const f of readdirSync(out)) writeFileSync(path.join(copy, f), readFileSync(path.join(out, f)));
    writeFileSync(path.join(copy, 'tokens.bin'), readFileSync(path.join(out, 'tokens.bin')).subarray(0, 8));
    await expect(openTokenStore(copy)).rejects.toThrow(/does not match meta\.json/);
    rmSync(path.join(copy, 'meta.json'));
    await expect(readMeta(copy)).rejects.toThrow(/meta\.json: missing \(the dataset was not tokenized, or not to the end\)/);
    expect(existsSync(path.join(copy, 'docs.bin'))).toBe(true);
  });
});

describe('histogramEdges', () => {
  it('two bins per octave up to the first edge past the longest document', () => {
    expect(histogramEdges(0)).toEqual([1, 2]);
    expect(histogramEdges(1)).toEqual([1, 2]);
    expect(histogramEdges(5)).toEqual([1, 2, 3, 4, 6]);
    expect(histogramEdges(6)).toEqual([1, 2, 3, 4, 6, 8]);
    expect(histogramEdges(2705).slice(-3)).toEqual([1536, 2048, 3072]);
  });
});
