import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { fileHandleBuffer, readParquetText, type ParquetText } from './parquet.ts';

// Fixtures written by parquet-wasm (arrow-rs), not by the reader under test: see fixtures/make-parquet.mjs.
const FIX = path.join(import.meta.dirname, 'fixtures');
const DEMO = path.join(import.meta.dirname, '..', '..', 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');
const TINY_TEXT = ['Hello, world.', 'Ünïcödé — “quotes” 日本語 😀', '', null, 'line one\nline two\n\nparagraph two', 'row 5', 'row 6', 'row 7', 'row 8', 'row 9'];

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-pq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function all(file: string, opts: Parameters<typeof readParquetText>[1] = {}, groups?: [number, number][]): Promise<ParquetText[]> {
  const out: ParquetText[] = [];
  for await (const v of readParquetText(file, opts, (done, total) => groups?.push([done, total]))) out.push(v);
  return out;
}

describe('readParquetText', () => {
  it('reads the text column of a snappy file with dictionary pages, row group by row group', async () => {
    const groups: [number, number][] = [];
    const rows = await all(path.join(FIX, 'tiny-snappy.parquet'), {}, groups);
    expect(rows.map((r) => r.text)).toEqual(TINY_TEXT);
    expect(rows.map((r) => r.row)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rows[3]).toEqual({ row: 3, text: null, reason: 'null' });
    expect(groups).toEqual([
      [4, 10],
      [8, 10],
      [10, 10],
    ]);
  });

  it('reads a gzip file with plain encoding and row groups of 3', async () => {
    const groups: [number, number][] = [];
    expect((await all(path.join(FIX, 'tiny-gzip-plain.parquet'), {}, groups)).map((r) => r.text)).toEqual(TINY_TEXT);
    expect(groups.map((g) => g[0])).toEqual([3, 6, 9, 10]);
  });

  it('reads a zstd file: the first 120 demo documents, equal to the JSON Lines text', async () => {
    const expected = readFileSync(DEMO, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(0, 120)
      .map((l) => (JSON.parse(l) as { text: string }).text);
    const rows = await all(path.join(FIX, 'demo-120-zstd.parquet'));
    expect(rows.map((r) => r.text)).toEqual(expected);
    // Another string column works as the text column too.
    const sources = await all(path.join(FIX, 'demo-120-zstd.parquet'), { textColumn: 'source' });
    expect(sources[0]!.text).toBe(
      (JSON.parse(
        readFileSync(DEMO, 'utf8')
          .split('\n')
          .find((l) => l.trim() !== '')!,
      ) as { source: string }).source,
    );
  });

  it('reads only what it needs through positioned reads: the footer and the text column', async () => {
    const file = path.join(FIX, 'demo-120-zstd.parquet');
    const handle = await fs.open(file, 'r');
    const size = (await handle.stat()).size;
    const buf = fileHandleBuffer(handle, size);
    const whole = new Uint8Array(await buf.slice(0));
    expect(Buffer.from(whole).equals(readFileSync(file))).toBe(true);
    expect(new Uint8Array(await buf.slice(size - 4)).length).toBe(4);
    expect(new Uint8Array(await buf.slice(10, 10)).length).toBe(0);
    await handle.close();
  });

  it('a missing column lists the columns there are; a non-string column is refused', async () => {
    const err = await all(path.join(FIX, 'tiny-snappy.parquet'), { textColumn: 'content', name: 'data/t.parquet' }).catch((e: unknown) => e as DatasetError);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).code).toBe('no_column');
    expect((err as DatasetError).message).toBe('data/t.parquet: no column "content" (columns: id, text, lang)');
    const err2 = await all(path.join(FIX, 'tiny-snappy.parquet'), { textColumn: 'id' }).catch((e: unknown) => e as DatasetError);
    expect((err2 as DatasetError).code).toBe('unsupported');
    expect((err2 as DatasetError).message).toMatch(/column "id" is a INT64 column, not a text \(string\) column/);
  });

  it('a row group larger than the limit is refused before it is read', async () => {
    const err = await all(path.join(FIX, 'demo-120-zstd.parquet'), { maxChunkBytes: 50_000 }).catch((e: unknown) => e as DatasetError);
    expect((err as DatasetError).code).toBe('too_large');
    expect((err as DatasetError).message).toMatch(/row 0: the row group's "text" column is \d+ bytes uncompressed, over the limit of 50000/);
  });

  it('files that are not parquet, truncated or corrupt give bad_file, never a crash', async () => {
    const good = readFileSync(path.join(FIX, 'tiny-snappy.parquet'));
    const cases: [string, Buffer, RegExp][] = [
      ['empty.parquet', Buffer.alloc(0), /too short/],
      ['text.parquet', Buffer.from('this is not a parquet file at all'), /no PAR1 magic/],
      ['truncated.parquet', good.subarray(0, good.length - 100), /no PAR1 magic/],
      ['footer.parquet', Buffer.concat([good.subarray(0, good.length - 8), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('PAR1')]), /footer length \d+ is larger than the file/],
    ];
    // Corrupt the middle (page data) but keep the footer: the read fails with a message naming the rows.
    const mid = Buffer.from(good);
    for (let i = 8; i < 600; i++) mid[i] = 0xaa;
    cases.push(['corrupt.parquet', mid, /cannot be read|not a readable parquet/]);
    for (const [name, bytes, why] of cases) {
      const file = path.join(dir, name);
      writeFileSync(file, bytes);
      const err = await all(file, { name }).catch((e: unknown) => e as DatasetError);
      expect(err, name).toBeInstanceOf(DatasetError);
      expect((err as DatasetError).code, name).toBe('bad_file');
      expect((err as DatasetError).message, name).toMatch(why);
      expect((err as DatasetError).message.startsWith(`${name}: `), name).toBe(true);
    }
  });

  it('stops between row groups when cancelled', async () => {
    const ac = new AbortController();
    const seen: (string | null)[] = [];
    const err = await (async () => {
      for await (const v of readParquetText(path.join(FIX, 'tiny-snappy.parquet'), { signal: ac.signal })) {
        seen.push(v.text);
        ac.abort();
      }
    })().catch((e: unknown) => e as DatasetError);
    expect((err as DatasetError).code).toBe('cancelled');
    expect(seen.length).toBe(4); // the first row group
  });
});
