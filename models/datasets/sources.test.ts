import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { formatOf, openDocuments, type ReadOptions, type SourceDocument } from './sources.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-src-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIX = path.join(import.meta.dirname, 'fixtures');
const DEMO = path.join(import.meta.dirname, '..', '..', 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function read(files: Parameters<typeof openDocuments>[0], opts: ReadOptions = {}): Promise<SourceDocument[]> {
  const docs = await openDocuments(files, opts);
  const out: SourceDocument[] = [];
  for await (const d of docs) out.push(d);
  return out;
}

async function error(files: Parameters<typeof openDocuments>[0], opts: ReadOptions = {}): Promise<DatasetError> {
  const err = await read(files, opts).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DatasetError);
  return err as DatasetError;
}

describe('formatOf', () => {
  it('knows the formats by extension, gzipped text ones too', () => {
    expect(formatOf('a.txt')).toEqual({ format: 'txt', gzip: false });
    expect(formatOf('data/train-00000-of-00002.parquet')).toEqual({ format: 'parquet', gzip: false });
    expect(formatOf('c4-train.00000-of-01024.json.gz')).toEqual({ format: 'jsonl', gzip: true });
    expect(formatOf('X.CSV')).toEqual({ format: 'csv', gzip: false, delimiter: ',' });
    expect(formatOf('x.tsv')).toEqual({ format: 'csv', gzip: false, delimiter: '\t' });
    expect(formatOf('x.ndjson')?.format).toBe('jsonl');
    expect(formatOf('x.parquet.gz')).toBeNull();
    expect(formatOf('README.md')).toBeNull();
    expect(formatOf('archive.zip')).toBeNull();
  });
});

describe('plain text', () => {
  const text = '\n\nFirst paragraph,\nwrapped.\n\n\n  \nSecond one.\r\nStill second.\r\n\r\nThird\n';
  it('paragraphs by default: blank-line separated, inner newlines kept, CRLF read as LF, with the starting line', async () => {
    const docs = await read([file('book.txt', text)]);
    expect(docs).toEqual([
      { text: 'First paragraph,\nwrapped.', source: 'book.txt:3' },
      { text: 'Second one.\nStill second.', source: 'book.txt:8' },
      { text: 'Third', source: 'book.txt:11' },
    ]);
  });
  it('one document per non-blank line', async () => {
    expect((await read([file('lines.txt', text)], { textSplit: 'line' })).map((d) => [d.text, d.source])).toEqual([
      ['First paragraph,', 'lines.txt:3'],
      ['wrapped.', 'lines.txt:4'],
      ['Second one.', 'lines.txt:8'],
      ['Still second.', 'lines.txt:9'],
      ['Third', 'lines.txt:11'],
    ]);
  });
  it('the whole file as one document (leading and trailing blank lines dropped)', async () => {
    expect(await read([file('doc.txt', text)], { textSplit: 'document' })).toEqual([
      { text: 'First paragraph,\nwrapped.\n\n\n  \nSecond one.\nStill second.\n\nThird', source: 'doc.txt:3' },
    ]);
  });
  it('a document longer than the limit is cut at line breaks (and a line longer than it, inside the line)', async () => {
    const long = Array.from({ length: 10 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n'); // 10 lines of 27-28 chars
    const docs = await read([file('long.txt', long)], { textSplit: 'document', maxTextDocumentChars: 100 });
    expect(docs.every((d) => d.text.length <= 100)).toBe(true);
    expect(docs.map((d) => d.text).join('\n')).toBe(long);
    expect(docs.map((d) => d.source)).toEqual(['long.txt:1', 'long.txt:4', 'long.txt:7', 'long.txt:10']);
    const one = await read([file('one.txt', `${'a'.repeat(250)}\n\nshort`)], { maxTextDocumentChars: 100 });
    expect(one.map((d) => d.text.length)).toEqual([100, 100, 50, 5]);
    const emoji = await read([file('emoji.txt', '😀'.repeat(10))], { maxTextDocumentChars: 5 });
    expect(emoji.map((d) => d.text).join('')).toBe('😀'.repeat(10)); // no surrogate pair split
    expect(emoji.every((d) => !/[\ud800-\udbff]$/.test(d.text))).toBe(true);
  });
  it('gzipped text; invalid UTF-8 is a bad row naming the line', async () => {
    expect(await read([file('t.txt.gz', gzipSync('a\n\nb'))])).toEqual([
      { text: 'a', source: 't.txt.gz:1' },
      { text: 'b', source: 't.txt.gz:3' },
    ]);
    const bad = file('latin1.txt', Buffer.from('ok\n\ncaf\xe9\n', 'latin1'));
    const err = await error([bad]);
    expect([err.code, err.line, err.message]).toEqual(['bad_row', 3, 'latin1.txt: line 3: not valid UTF-8 (convert the file to UTF-8)']);
    const docs = await openDocuments([bad], { onBadRow: 'skip' });
    const texts: string[] = [];
    for await (const d of docs) texts.push(d.text);
    expect(texts).toEqual(['ok']);
    expect(docs.skippedRows).toBe(1);
  });
});

describe('JSON Lines', () => {
  it('reads the demo dataset: 1,272 documents equal to JSON.parse of each line, sources by line number', async () => {
    const lines = readFileSync(DEMO, 'utf8').split('\n');
    const expected = lines.flatMap((l, i) => (l.trim() === '' ? [] : [{ text: (JSON.parse(l) as { text: string }).text, source: `heldout.jsonl:${i + 1}` }]));
    const stream = await openDocuments([{ path: DEMO, name: 'heldout.jsonl' }]);
    const docs: SourceDocument[] = [];
    for await (const d of stream) docs.push(d);
    expect(docs.length).toBe(1272);
    expect(docs).toEqual(expected);
    expect(stream.bytesTotal).toBe(readFileSync(DEMO).length);
    expect(stream.bytesRead).toBe(stream.bytesTotal);
    // Another field as the text.
    expect((await read([DEMO], { textColumn: 'source' }))[0]!.text).toBe((JSON.parse(lines[0]!) as { source: string }).source);
  });

  const content = ['{"text": "one"}', '', '{"text": "two", "n": 2}', '{"text": broken}', '{"body": "no text"}', '{"text": 3}', '[1, 2]', '{"text": ""}', '{"text": "last"}'].join('\r\n');
  it('a bad line is an error naming the file and line', async () => {
    const err = await error([file('rows.jsonl', content)]);
    expect(err.code).toBe('bad_row');
    expect([err.file, err.line]).toEqual(['rows.jsonl', 4]);
    expect(err.message).toMatch(/^rows\.jsonl: line 4: not valid JSON \(/);
  });
  it("or skipped and counted with onBadRow: 'skip', each kind of bad row", async () => {
    const stream = await openDocuments([file('rows2.jsonl', content)], { onBadRow: 'skip' });
    const docs: SourceDocument[] = [];
    for await (const d of stream) docs.push(d);
    expect(docs).toEqual([
      { text: 'one', source: 'rows2.jsonl:1' },
      { text: 'two', source: 'rows2.jsonl:3' },
      { text: '', source: 'rows2.jsonl:8' },
      { text: 'last', source: 'rows2.jsonl:9' },
    ]);
    expect(stream.skippedRows).toBe(4);
    const messages = [];
    for (const [i, line] of [[0, 5], [1, 6], [2, 7]] as const) {
      const only = content.split('\r\n')[line - 1]!;
      const err = await error([file(`one-${i}.jsonl`, `{"text": "ok"}\n${only}\n`)]);
      messages.push(err.message);
    }
    expect(messages).toEqual(['one-0.jsonl: line 2: no "text" field (fields: body)', 'one-1.jsonl: line 2: "text" is a number, not a string', 'one-2.jsonl: line 2: a list, not a JSON object']);
  });
  it('a field no line has is a wrong column, even when skipping bad rows', async () => {
    const err = await error([file('cols.jsonl', '{"content": "a"}\n{"content": "b"}\n')], { onBadRow: 'skip' });
    expect(err.code).toBe('no_column');
    expect(err.message).toBe('cols.jsonl: no line has a "text" field (fields: content)');
    expect((await read([path.join(dir, 'cols.jsonl')], { textColumn: 'content' })).map((d) => d.text)).toEqual(['a', 'b']);
  });
  it('a JSON array file is refused with what to do; .json.gz JSON Lines are read', async () => {
    const err = await error([file('arr.json', '[{"text": "a"}]')]);
    expect([err.code, err.message]).toEqual(['unsupported', 'arr.json: a JSON array; Loupe reads JSON Lines (one JSON object per line)']);
    expect((await read([file('c4.json.gz', gzipSync('{"text":"a"}\n{"text":"b"}'))])).map((d) => d.text)).toEqual(['a', 'b']);
  });
  it('a line over the length limit is a bad row, and costs no more than the limit', async () => {
    const p = file('long.jsonl', `{"text": "a"}\n{"text": "${'x'.repeat(5000)}"}\n{"text": "b"}\n`);
    const err = await error([p], { maxLineBytes: 1000 });
    expect(err.message).toBe('long.jsonl: line 2: longer than 1000 bytes');
    expect((await read([p], { maxLineBytes: 1000, onBadRow: 'skip' })).map((d) => [d.text, d.source])).toEqual([
      ['a', 'long.jsonl:1'],
      ['b', 'long.jsonl:3'],
    ]);
  });
  it('a truncated gzip file is a bad file', async () => {
    const gz = gzipSync('{"text": "a"}\n'.repeat(1000));
    const err = await error([file('cut.jsonl.gz', gz.subarray(0, gz.length / 2))]);
    expect(err.code).toBe('bad_file');
  });
});

describe('CSV', () => {
  it('reads the text column: quotes, delimiters and newlines in fields, CRLF, a BOM, blank lines', async () => {
    const csv = '\ufeffid,text,label\r\n1,"Hello, ""world""",a\r\n\r\n2,"two\nlines",b\r\n3,plain,c';
    expect(await read([file('t.csv', csv)])).toEqual([
      { text: 'Hello, "world"', source: 't.csv:2' },
      { text: 'two\nlines', source: 't.csv:4' },
      { text: 'plain', source: 't.csv:6' },
    ]);
    expect((await read([file('t.tsv', 'text\tx\n"a\tb"\t1\n')])).map((d) => d.text)).toEqual(['a\tb']);
  });
  it('a ragged record is a bad row (or skipped); a missing column lists the header', async () => {
    const p = file('ragged.csv', 'id,text\n1,a\n2,b,extra\n3,c\n');
    const err = await error([p]);
    expect(err.message).toBe('ragged.csv: line 3: 3 fields, but the header has 2');
    expect((await read([p], { onBadRow: 'skip' })).map((d) => d.text)).toEqual(['a', 'c']);
    const err2 = await error([p], { textColumn: 'body' });
    expect([err2.code, err2.message]).toEqual(['no_column', 'ragged.csv: no column "body" in the header row (columns: id, text)']);
    expect((await error([file('empty.csv', '')])).message).toBe('empty.csv: empty (a CSV file needs a header row)');
    expect((await error([file('open.csv', 'text\n"unclosed\n')])).message).toBe('open.csv: line 2: a quoted field is not closed before the end of the file');
  });
});

describe('parquet, and several files in one stream', () => {
  it('reads parquet text in file order after other formats, with row sources and byte progress', async () => {
    const a = file('a.txt', 'alpha\n\nbeta');
    const stream = await openDocuments([a, path.join(FIX, 'tiny-snappy.parquet'), { path: path.join(FIX, 'demo-120-zstd.parquet'), name: 'data/train-00000-of-00001.parquet' }], { onBadRow: 'skip' });
    const docs: SourceDocument[] = [];
    const progress: number[] = [];
    for await (const d of stream) {
      docs.push(d);
      progress.push(stream.bytesRead);
    }
    expect(docs.slice(0, 3)).toEqual([
      { text: 'alpha', source: 'a.txt:1' },
      { text: 'beta', source: 'a.txt:3' },
      { text: 'Hello, world.', source: 'tiny-snappy.parquet#0' },
    ]);
    expect(docs.length).toBe(2 + 9 + 120); // the null row is skipped
    expect(stream.skippedRows).toBe(1);
    expect(docs[docs.length - 1]!.source).toBe('data/train-00000-of-00001.parquet#119');
    expect(stream.bytesRead).toBe(stream.bytesTotal);
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
  });
  it('a null parquet value is a bad row naming the row', async () => {
    const err = await error([path.join(FIX, 'tiny-gzip-plain.parquet')]);
    expect([err.code, err.row, err.message]).toEqual(['bad_row', 3, 'tiny-gzip-plain.parquet: row 3: "text" is null, not a string']);
  });
  it('unknown extensions and missing files are refused when opening', async () => {
    await expect(openDocuments([file('x.md', '# x')])).rejects.toThrow(/x\.md: not a dataset file Loupe reads/);
    await expect(openDocuments([path.join(dir, 'missing.jsonl')])).rejects.toThrow(/ENOENT/);
  });
  it('a stream can be read again, and stops when cancelled', async () => {
    const stream = await openDocuments([DEMO]);
    let n = 0;
    for await (const _ of stream) if (++n === 10) break;
    let m = 0;
    for await (const _ of stream) m++;
    expect(m).toBe(1272);
    const ac = new AbortController();
    const s2 = await openDocuments([path.join(FIX, 'tiny-snappy.parquet'), DEMO], { signal: ac.signal, onBadRow: 'skip' });
    const err = await (async () => {
      for await (const d of s2) if (d.source.endsWith('#9')) ac.abort();
    })().catch((e: unknown) => e as DatasetError);
    expect((err as DatasetError).code).toBe('cancelled');
  });
});
