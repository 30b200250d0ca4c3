import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../tokenizer.ts';
import { readSample } from './sample.ts';
import { openDocuments } from './sources.ts';
import { tokenizeDataset } from './tokenize.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const DEMO_MODEL = path.join(ROOT, 'demo', 'models', 'tiny-gpt2-debian-6l');
const DEMO = path.join(ROOT, 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');
const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-sample-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const texts = readFileSync(DEMO, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => (JSON.parse(l) as { text: string }).text);

describe('readSample', () => {
  let tok: Tokenizer;
  const out = path.join(dir, 'demo');
  beforeAll(async () => {
    tok = await loadTokenizer(DEMO_MODEL);
    await tokenizeDataset(await openDocuments([DEMO]), tok, out, { maxDocuments: 300 });
  }, 60_000);

  it('pages through documents with ids, per-token strings and text', async () => {
    const page = await readSample(out, tok, { offset: 40, limit: 20 });
    expect([page.offset, page.limit, page.total, page.documents.length]).toEqual([40, 20, 300, 20]);
    let start = 0;
    for (const t of texts.slice(0, 40)) start += tok.encode(t, { addEos: true }).length;
    for (const [i, doc] of page.documents.entries()) {
      const ids = Array.from(tok.encode(texts[40 + i]!, { addEos: true }));
      expect(doc.index).toBe(40 + i);
      expect(doc.start).toBe(start);
      expect(doc.length).toBe(ids.length);
      expect(doc.ids).toEqual(ids);
      expect(doc.strings).toEqual(tok.tokenStrings(ids));
      expect(doc.text).toBe(`${texts[40 + i]}<|endoftext|>`);
      expect(doc.truncated).toBe(false);
      start += ids.length;
    }
    // These documents are ASCII: the token strings join back to the text, so token boundaries show exactly.
    expect(page.documents[0]!.strings.join('')).toBe(page.documents[0]!.text);
  });

  it('the last page is short, past the end is empty, long documents are cut, limits are capped', async () => {
    expect((await readSample(out, tok, { offset: 290, limit: 20 })).documents.map((d) => d.index)).toEqual([290, 291, 292, 293, 294, 295, 296, 297, 298, 299]);
    expect((await readSample(out, tok, { offset: 300 })).documents).toEqual([]);
    const cut = await readSample(out, tok, { offset: 0, limit: 1, maxTokensPerDocument: 10 });
    expect(cut.documents[0]!.ids.length).toBe(10);
    expect(cut.documents[0]!.truncated).toBe(true);
    expect(cut.documents[0]!.length).toBe(tok.encode(texts[0]!, { addEos: true }).length);
    expect((await readSample(out, tok, { limit: 10_000 })).documents.length).toBe(100);
    expect((await readSample(out, tok)).documents.length).toBe(20);
    await expect(readSample(out, tok, { offset: -1 })).rejects.toThrow(RangeError);
    await expect(readSample(path.join(dir, 'nothing'), tok)).rejects.toThrow(/meta\.json: missing/);
  });
});
