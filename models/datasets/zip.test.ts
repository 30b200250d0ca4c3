import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetError, type ZipRule } from './errors.ts';
import { buildZip, type ZipEntrySpec } from './fixtures/zip-writer.ts';
import { openDocuments } from './sources.ts';
import { checkEntryName, extractZip, type ZipOptions } from './zip.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'loupe-zip-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** Writes a zip of the entries into its own folder; returns the zip path and the destination to extract to. */
function zipOf(entries: ZipEntrySpec[], opts: { declaredEntryCount?: number } = {}): { zip: string; dest: string; folder: string } {
  const folder = path.join(root, `case-${n++}`);
  const zip = `${folder}.zip`;
  writeFileSync(zip, buildZip(entries, opts));
  return { zip, dest: path.join(folder, 'files'), folder };
}

async function rejected(entries: ZipEntrySpec[], opts: ZipOptions = {}, build: { declaredEntryCount?: number } = {}): Promise<DatasetError> {
  const { zip, dest } = zipOf(entries, build);
  await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(dest), { recursive: true }));
  const err = await extractZip(zip, dest, opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  // Nothing partial stays: no destination, no temporary folder beside it.
  expect(existsSync(dest)).toBe(false);
  expect(readdirSync(path.dirname(dest))).toEqual([]);
  return err as DatasetError;
}

async function expectRule(entries: ZipEntrySpec[], rule: ZipRule, entry: string, opts: ZipOptions = {}): Promise<DatasetError> {
  const err = await rejected(entries, opts);
  expect(err.code).toBe('zip_rejected');
  expect(err.rule, err.message).toBe(rule);
  expect(err.entry).toBe(entry);
  expect(err.message).toContain(JSON.stringify(entry));
  expect(err.message).toContain(`rule: ${rule}`);
  return err;
}

const GOOD = { name: 'data/ok.jsonl', data: '{"text": "fine"}\n' };

describe('extractZip: a good archive', () => {
  it('extracts data files (stored and deflated, in folders), skips and reports the rest', async () => {
    const jsonl = Array.from({ length: 50 }, (_, i) => JSON.stringify({ text: `document ${i}` })).join('\n');
    const csv = 'id,text\n1,"a, b"\n2,"multi\nline"\n';
    const { zip, dest, folder } = zipOf([
      { name: 'data/' },
      { name: 'data/train.jsonl', data: jsonl },
      { name: 'data/more.csv', data: csv, method: 0 },
      { name: 'README.md', data: '# about' },
      { name: 'img/logo.png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47]) },
      { name: 'notes.txt', data: 'para one\n\npara two\n' },
    ]);
    await import('node:fs/promises').then((fs) => fs.mkdir(folder));
    const progress: number[] = [];
    const res = await extractZip(zip, dest, { onProgress: (p) => progress.push(p.entries) });
    expect(res.dir).toBe(dest);
    expect(res.files.map((f) => f.name)).toEqual(['data/train.jsonl', 'data/more.csv', 'notes.txt']);
    expect(res.files.map((f) => f.path)).toEqual([path.join(dest, 'data', 'train.jsonl'), path.join(dest, 'data', 'more.csv'), path.join(dest, 'notes.txt')]);
    expect(res.skipped.map((s) => s.name)).toEqual(['README.md', 'img/logo.png']);
    expect(res.bytes).toBe(Buffer.byteLength(jsonl) + Buffer.byteLength(csv) + 19);
    expect(readFileSync(path.join(dest, 'data', 'train.jsonl'), 'utf8')).toBe(jsonl);
    expect(readFileSync(path.join(dest, 'data', 'more.csv'), 'utf8')).toBe(csv);
    expect(existsSync(path.join(dest, 'README.md'))).toBe(false);
    expect(readdirSync(folder)).toEqual(['files']); // the temporary folder was renamed, nothing else is left
    expect(progress).toEqual([2, 3, 6]);

    const docs = await openDocuments(res.files.map((f) => ({ path: f.path, name: f.name })));
    const texts: string[] = [];
    for await (const d of docs) texts.push(d.text);
    expect(texts.length).toBe(50 + 2 + 2);
    expect(texts.slice(50)).toEqual(['a, b', 'multi\nline', 'para one', 'para two']);
  });
});

describe('extractZip: refused archives name the entry and the rule', () => {
  it('path traversal', async () => {
    await expectRule([GOOD, { name: '../evil.txt', data: 'x' }], 'path_traversal', '../evil.txt');
    await expectRule([{ name: 'a/../../evil.jsonl', data: 'x' }], 'path_traversal', 'a/../../evil.jsonl');
    await expectRule([{ name: '..\\..\\evil.txt', data: 'x' }], 'path_traversal', '..\\..\\evil.txt');
  });

  it('absolute paths and drive letters', async () => {
    await expectRule([{ name: '/etc/cron.d/evil.txt', data: 'x' }], 'absolute_path', '/etc/cron.d/evil.txt');
    await expectRule([{ name: 'C:/Windows/evil.txt', data: 'x' }], 'absolute_path', 'C:/Windows/evil.txt');
    await expectRule([{ name: 'C:evil.txt', data: 'x' }], 'absolute_path', 'C:evil.txt');
  });

  it('backslashes, control characters, empty and "." segments', async () => {
    await expectRule([{ name: 'dir\\file.txt', data: 'x' }], 'bad_name', 'dir\\file.txt');
    await expectRule([{ name: 'a\u0000.txt', data: 'x' }], 'bad_name', 'a\u0000.txt');
    await expectRule([{ name: 'a//b.txt', data: 'x' }], 'bad_name', 'a//b.txt');
    await expectRule([{ name: './a.txt', data: 'x' }], 'bad_name', './a.txt');
  });

  it('symbolic links and other special files (by the Unix mode in the external attributes)', async () => {
    await expectRule([GOOD, { name: 'link.txt', data: '/etc/passwd', method: 0, externalAttributes: 0o120777 << 16 }], 'symlink', 'link.txt');
    await expectRule([{ name: 'fifo.txt', data: '', method: 0, externalAttributes: 0o010644 << 16 }], 'symlink', 'fifo.txt');
  });

  it('duplicate names, also by case, and a file that is also a folder', async () => {
    await expectRule([GOOD, { name: 'data/ok.jsonl', data: '{"text": "again"}' }], 'duplicate', 'data/ok.jsonl');
    await expectRule([{ name: 'A.txt', data: 'x' }, { name: 'a.txt', data: 'y' }], 'duplicate', 'a.txt');
    await expectRule([{ name: 'x', data: 'a file' }, { name: 'x/y.txt', data: 'y' }], 'duplicate', 'x/y.txt');
    await expectRule([{ name: 'x/y.txt', data: 'y' }, { name: 'x', data: 'a file' }], 'duplicate', 'x');
  });

  it('encrypted entries', async () => {
    await expectRule([GOOD, { name: 'secret.txt', data: 'x', flags: 0x801 }], 'encrypted', 'secret.txt');
  });

  it('compression methods other than stored and deflate', async () => {
    await expectRule([{ name: 'b.txt', data: 'x', method: 12 }], 'compression_method', 'b.txt');
  });

  it('nested archives', async () => {
    const inner = buildZip([{ name: 'a.txt', data: 'x' }]);
    await expectRule([GOOD, { name: 'more/inner.zip', data: inner }], 'nested_archive', 'more/inner.zip');
  });

  it('too many entries (from the directory end record, and as read)', async () => {
    const many = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` }));
    const err = await rejected(many, { maxEntries: 5 });
    expect(err.rule).toBe('too_many_entries');
    expect(err.message).toMatch(/6 entries, more than the limit of 5/);
    // An end record that under-counts: only the entries it counts are read (and so extracted), never more.
    const { zip, dest, folder } = zipOf(many, { declaredEntryCount: 5 });
    await import('node:fs/promises').then((fs) => fs.mkdir(folder));
    expect((await extractZip(zip, dest, { maxEntries: 5 })).files.map((f) => f.name)).toEqual(['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt']);
    const err3 = await rejected(many.slice(0, 5), { maxEntries: 4 });
    expect(err3.rule).toBe('too_many_entries');
  });

  it('a real deflate bomb: 64 MiB of zeros in 64 KiB, refused by its ratio before inflating', async () => {
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const err = await expectRule([GOOD, { name: 'zeros.txt', rawCompressed: bomb, declaredSize: 64 * 1024 * 1024 }], 'compression_ratio', 'zeros.txt');
    expect(err.message).toMatch(/more than 200×/);
  });

  it('a bomb whose header lies (declares 1 KiB): stopped while inflating, at the declared size', async () => {
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
    const err = await expectRule([GOOD, { name: 'zeros.txt', rawCompressed: bomb, declaredSize: 1024 }], 'size_mismatch', 'zeros.txt');
    expect(err.message).toMatch(/too many bytes/);
  });

  it('an archive inflating past the total limit, declared or not', async () => {
    const text = 'lorem ipsum dolor sit amet '.repeat(4000); // 108 kB, deflates ~100×
    const entries = [0, 1, 2].map((i) => ({ name: `t${i}.txt`, data: text }));
    const declared = await rejected(entries, { maxTotalBytes: 250_000 });
    expect([declared.rule, declared.entry]).toEqual(['too_large', 't2.txt']);
    // A header that under-declares the size: caught while inflating.
    const lying = await rejected([{ name: 't.txt', data: text, declaredSize: 10 }], { maxTotalBytes: 250_000 });
    expect(lying.rule).toBe('size_mismatch');
  });

  it('a file that is not a zip, and a truncated one', async () => {
    const { zip, dest } = zipOf([]);
    writeFileSync(zip, 'not a zip at all');
    const err = await extractZip(zip, dest).catch((e: unknown) => e as DatasetError);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).rule).toBe('malformed');
    const good = buildZip([{ name: 'a.txt', data: 'hello '.repeat(1000) }]);
    writeFileSync(zip, good.subarray(0, good.length - 30));
    expect(((await extractZip(zip, dest).catch((e: unknown) => e)) as DatasetError).rule).toBe('malformed');
  });

  it('cancelled: nothing is left', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await rejected([GOOD], { signal: ac.signal });
    expect(err.code).toBe('cancelled');
  });
});

describe('checkEntryName', () => {
  it('accepts ordinary relative names and returns their segments', () => {
    expect(checkEntryName('a/b/c.txt')).toEqual(['a', 'b', 'c.txt']);
    expect(checkEntryName('folder/')).toEqual(['folder']);
    expect(checkEntryName('..hidden..txt')).toEqual(['..hidden..txt']);
    expect(checkEntryName('日本語/データ.jsonl')).toEqual(['日本語', 'データ.jsonl']);
  });
  it('refuses what could escape or confuse', () => {
    expect(() => checkEntryName('')).toThrow(/empty name/);
    expect(() => checkEntryName(`${'a/'.repeat(40)}x.txt`)).toThrow(/deep/);
    expect(() => checkEntryName('x'.repeat(2000))).toThrow(/longer than/);
  });
});
