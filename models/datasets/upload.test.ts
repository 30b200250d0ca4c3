import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { safeUploadName, saveUpload } from './upload.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-upload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A body of `chunks` chunks of `size` bytes, counting how many were pulled. */
function body(chunks: number, size: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let n = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (n === chunks) return controller.close();
      controller.enqueue(new Uint8Array(size).fill(0x61 + (n % 26)));
      n++;
    },
  });
  return { stream, pulled: () => n };
}

describe('safeUploadName', () => {
  it('keeps the base name with safe characters, and knows the kind', () => {
    expect(safeUploadName('C:\\Users\\me\\my data (1).jsonl')).toEqual({ name: 'my_data__1_.jsonl', kind: 'jsonl' });
    expect(safeUploadName('../../etc/passwd.txt')).toEqual({ name: 'passwd.txt', kind: 'txt' });
    expect(safeUploadName('..data.csv')).toEqual({ name: 'data.csv', kind: 'csv' });
    expect(safeUploadName('Corpus.ZIP')).toEqual({ name: 'Corpus.ZIP', kind: 'zip' });
    expect(safeUploadName('wiki.parquet').kind).toBe('parquet');
    expect(safeUploadName('x.jsonl.gz').kind).toBe('jsonl');
    expect(safeUploadName(`${'a'.repeat(500)}.txt`).name.length).toBe(200);
  });
  it('refuses what it does not read', () => {
    expect(() => safeUploadName('x.exe')).toThrow(DatasetError);
    expect(() => safeUploadName('notes')).toThrow(/not a dataset file Loupe reads/);
    expect(() => safeUploadName('..')).toThrow(DatasetError);
  });
});

describe('saveUpload', () => {
  it('streams a web ReadableStream to disk under the safe name', async () => {
    const { stream } = body(10, 100_000);
    const sizes: number[] = [];
    const saved = await saveUpload(stream, path.join(dir, 'a'), 'my corpus.txt', { onProgress: (b) => sizes.push(b) });
    expect(saved).toEqual({ path: path.join(dir, 'a', 'my_corpus.txt'), name: 'my_corpus.txt', bytes: 1_000_000, kind: 'txt' });
    const content = readFileSync(saved.path);
    expect(content.length).toBe(1_000_000);
    expect(content[0]).toBe(0x61);
    expect(content[999_999]).toBe(0x61 + 9);
    expect(sizes[sizes.length - 1]).toBe(1_000_000);
    expect(readdirSync(path.join(dir, 'a'))).toEqual(['my_corpus.txt']);
  });

  it('takes any async iterable of bytes', async () => {
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"text": "a"}\n');
      yield Buffer.from('{"text": "b"}\n');
    }
    const saved = await saveUpload(gen(), path.join(dir, 'b'), 'rows.jsonl');
    expect(readFileSync(saved.path, 'utf8')).toBe('{"text": "a"}\n{"text": "b"}\n');
  });

  it('stops reading as soon as the limit is passed and keeps nothing', async () => {
    const { stream, pulled } = body(1000, 64 * 1024);
    const err = await saveUpload(stream, path.join(dir, 'c'), 'big.txt', { maxBytes: 300_000 }).catch((e: unknown) => e as DatasetError);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).code).toBe('too_large');
    expect((err as DatasetError).message).toBe('big.txt: larger than the upload limit of 300000 bytes');
    expect(pulled()).toBeLessThan(10); // the body was not read to its end
    expect(readdirSync(path.join(dir, 'c'))).toEqual([]);
  });

  it('cancelled, or a failing body: nothing under the real name, no temporary file', async () => {
    const ac = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('part one ');
      ac.abort();
      yield Buffer.from('part two');
    }
    const err = await saveUpload(slow(), path.join(dir, 'd'), 'x.txt', { signal: ac.signal }).catch((e: unknown) => e as DatasetError);
    expect((err as DatasetError).code).toBe('cancelled');
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('part one ');
      throw new Error('connection reset');
    }
    await expect(saveUpload(broken(), path.join(dir, 'd'), 'x.txt')).rejects.toThrow('connection reset');
    expect(readdirSync(path.join(dir, 'd'))).toEqual([]);
    expect(existsSync(path.join(dir, 'd', 'x.txt'))).toBe(false);
  });
});
