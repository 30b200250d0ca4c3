import { describe, expect, it } from 'vitest';
import { parseCsv, type CsvOptions } from './csv.ts';
import { DatasetError } from './errors.ts';

async function* inChunks(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function parse(text: string, size = text.length || 1, opts: CsvOptions = {}): Promise<[number, string[]][]> {
  const out: [number, string[]][] = [];
  for await (const r of parseCsv(inChunks(text, size), opts)) out.push([r.line, r.fields]);
  return out;
}

// Expected records written out by hand from RFC 4180 (and checked against Python's csv module).
const TRICKY = 'id,text,note\r\n1,"Hello, world",plain\r\n2,"She said ""hi""\nand left",\r\n3,,"x"\n4,"a\r\nb","""quoted"""\n5,unquoted "inner" quotes,end';
const TRICKY_RECORDS: [number, string[]][] = [
  [1, ['id', 'text', 'note']],
  [2, ['1', 'Hello, world', 'plain']],
  [3, ['2', 'She said "hi"\nand left', '']],
  [5, ['3', '', 'x']],
  [6, ['4', 'a\r\nb', '"quoted"']],
  [8, ['5', 'unquoted "inner" quotes', 'end']],
];

describe('parseCsv', () => {
  it('reads quoted fields with delimiters, escaped quotes and newlines, CRLF and LF, with start lines', async () => {
    expect(await parse(TRICKY)).toEqual(TRICKY_RECORDS);
  });

  it('gives the same records however the text is cut into chunks', async () => {
    for (const size of [1, 2, 3, 5, 7, 16, 64]) expect(await parse(TRICKY, size), `chunks of ${size}`).toEqual(TRICKY_RECORDS);
  });

  it('a trailing newline ends the last record; blank lines are one empty field', async () => {
    expect(await parse('a,b\n1,2\n')).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
    ]);
    expect(await parse('a\n\nb\n')).toEqual([
      [1, ['a']],
      [2, ['']],
      [3, ['b']],
    ]);
    expect(await parse('')).toEqual([]);
    expect(await parse('"",x\n')).toEqual([[1, ['', 'x']]]);
  });

  it('other delimiters (tab)', async () => {
    expect(await parse('a\tb\n"x\ty"\tz\n', 4, { delimiter: '\t' })).toEqual([
      [1, ['a', 'b']],
      [2, ['x\ty', 'z']],
    ]);
    await expect(parse('a', 1, { delimiter: '"' })).rejects.toThrow(/invalid CSV delimiter/);
  });

  it('a quoted field left open is an error naming the line where it opened', async () => {
    const err = await parse('id,text\n1,ok\n2,"never\nclosed\n', 5, { file: 'x.csv' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).code).toBe('bad_file');
    expect((err as DatasetError).message).toBe('x.csv: line 3: a quoted field is not closed before the end of the file');
  });

  it('a record over maxRecordChars is refused (memory stays bounded)', async () => {
    const long = `a,b\n1,"${'x'.repeat(5000)}"\n`;
    const err = await parse(long, 100, { maxRecordChars: 1000, file: 'big.csv' }).catch((e: unknown) => e);
    expect((err as DatasetError).code).toBe('too_large');
    expect((err as DatasetError).message).toMatch(/^big\.csv: line 2: a CSV record longer than 1000 characters/);
    expect((await parse(long, 100, { maxRecordChars: 6000 })).length).toBe(2);
  });
});
