/**
 * Safe extraction of an uploaded .zip of dataset files, with yauzl (entries
 * read lazily from the central directory, each file inflated as a stream).
 *
 * Every entry is checked before anything of it is written, and the archive is
 * refused whole — with an error naming the entry and the rule — when one of
 * them:
 *
 * - has a `..` segment (`path_traversal`), starts with `/` or a drive letter
 *   (`absolute_path`), or holds a backslash, a control character, an empty or
 *   `.` segment, or is too long or too deep (`bad_name`);
 * - is a symbolic link or another non-regular file by its Unix mode in the
 *   external attributes (`symlink`);
 * - has the same name as another entry, ignoring case and Unicode
 *   normalization, or is both a file and a folder (`duplicate`);
 * - is encrypted (`encrypted`) or compressed other than stored or deflated
 *   (`compression_method`);
 * - is itself an archive, `.zip` (`nested_archive`);
 * - makes the archive hold more than `maxEntries` entries (`too_many_entries`)
 *   or inflate to more than `maxTotalBytes` (`too_large`);
 * - declares, or reaches while inflating, an inflated/compressed ratio over
 *   `maxRatio` once past `ratioGraceBytes` (`compression_ratio`);
 * - inflates to more or fewer bytes than its header declares (`size_mismatch`:
 *   headers can lie, so sizes are counted on the inflated stream, never trusted).
 *
 * Only data files (.txt, .jsonl, .json, .csv, .tsv, .parquet, and gzipped text
 * ones) are extracted; other entries are skipped and reported. Files are
 * written under a temporary folder beside the destination, which is renamed to
 * the destination only when every entry passed, so a refused or cancelled
 * archive leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { DatasetError, type ZipRule } from './errors.ts';
import { DATASET_LIMITS } from './limits.ts';
import { formatOf } from './sources.ts';

/** Limits of {@link extractZip} (defaults from {@link DATASET_LIMITS}), progress and cancel. */
export interface ZipOptions {
  /** most entries (files and folders); default {@link DATASET_LIMITS.ZIP_MAX_ENTRIES} */
  maxEntries?: number;
  /** most bytes all extracted entries may inflate to; default {@link DATASET_LIMITS.ZIP_MAX_TOTAL_BYTES} */
  maxTotalBytes?: number;
  /** highest inflated/compressed ratio of one entry; default {@link DATASET_LIMITS.ZIP_MAX_RATIO} */
  maxRatio?: number;
  /** the ratio rule applies past this many inflated bytes of an entry; default {@link DATASET_LIMITS.ZIP_RATIO_GRACE_BYTES} */
  ratioGraceBytes?: number;
  /** called after each extracted entry */
  onProgress?: (p: { entries: number; entriesTotal: number; bytes: number }) => void;
  signal?: AbortSignal;
}

/** What an archive held. */
export interface ZipExtraction {
  /** the destination folder */
  dir: string;
  /** data files extracted, in archive order: the entry name (`/`-separated) and its path on disk */
  files: { name: string; path: string; bytes: number }[];
  /** entries not extracted (folders are not listed) */
  skipped: { name: string; reason: string }[];
  /** bytes written */
  bytes: number;
}

const MAX_NAME_LENGTH = 1024;
const MAX_DEPTH = 32;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function reject(rule: ZipRule, entry: string, message: string, cause?: unknown): DatasetError {
  return new DatasetError('zip_rejected', `zip entry ${JSON.stringify(entry)}: ${message} (rule: ${rule})`, { entry, rule, cause });
}

/**
 * Checks an entry name; returns its `/`-separated segments (without the
 * trailing `/` of a folder).
 *
 * @throws DatasetError `zip_rejected` with rule path_traversal, absolute_path or bad_name
 */
export function checkEntryName(name: string): string[] {
  if (name.length === 0) throw reject('bad_name', name, 'empty name');
  if (name.length > MAX_NAME_LENGTH) throw reject('bad_name', name, `name longer than ${MAX_NAME_LENGTH} characters`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw reject('absolute_path', name, 'absolute path');
  if (name.includes('\\')) {
    // A Windows path: refuse it for what it would do there, then as a bad name.
    if (name.split('\\').includes('..')) throw reject('path_traversal', name, '".." segment');
    throw reject('bad_name', name, 'backslash in the name');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw reject('bad_name', name, 'control character in the name');
  const segs = name.replace(/\/$/, '').split('/');
  if (segs.includes('..')) throw reject('path_traversal', name, '".." segment');
  if (segs.some((s) => s === '' || s === '.')) throw reject('bad_name', name, 'empty or "." segment');
  if (segs.length > MAX_DEPTH) throw reject('bad_name', name, `more than ${MAX_DEPTH} folders deep`);
  return segs;
}

/**
 * Counts an entry's inflated bytes, enforcing the total and ratio limits as
 * they grow. With yauzl's own count against the declared size (which stops an
 * entry that inflates past what its header says) and the checks of declared
 * sizes before inflating, these limits cannot be passed; they stay as the
 * second line should either of those change.
 */
class Meter extends Transform {
  bytes = 0;
  constructor(
    private readonly name: string,
    private readonly compressed: number,
    private readonly budget: number,
    private readonly maxTotal: number,
    private readonly maxRatio: number,
    private readonly grace: number,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.budget) return cb(reject('too_large', this.name, `the archive inflates to more than ${this.maxTotal} bytes`));
    if (this.bytes > this.grace && this.bytes / Math.max(1, this.compressed) > this.maxRatio) {
      return cb(reject('compression_ratio', this.name, `inflates more than ${this.maxRatio}× (${this.compressed} compressed bytes gave ${this.bytes} so far)`));
    }
    cb(null, chunk);
  }
}

/** yauzl's own errors, as the rule they break. */
function fromYauzl(err: unknown, entry: string): DatasetError {
  if (err instanceof DatasetError) return err;
  const msg = (err as Error).message ?? String(err);
  if (/too many bytes|not enough bytes|size mismatch/i.test(msg)) return reject('size_mismatch', entry, `inflated size differs from the header (${msg})`, err);
  if (/encrypt/i.test(msg)) return reject('encrypted', entry, msg, err);
  if (/invalid (relative|characters)|absolute path/i.test(msg)) return reject('bad_name', entry, msg, err);
  return reject('malformed', entry, `malformed archive (${msg})`, err);
}

/**
 * Extracts the data files of a zip archive into `destDir` (which must not
 * exist yet, or be an empty folder), after checking every entry against the
 * rules above.
 *
 * @param zipPath the archive on disk (an upload already streamed there)
 * @param destDir folder to create (with its parents)
 * @throws DatasetError `zip_rejected` (with `entry` and `rule`), `cancelled`
 * @example const { files } = await extractZip('/data/uploads/x.zip', '/data/datasets/7/files', { maxTotalBytes: 1e9 })
 */
export async function extractZip(zipPath: string, destDir: string, opts: ZipOptions = {}): Promise<ZipExtraction> {
  const maxEntries = opts.maxEntries ?? DATASET_LIMITS.ZIP_MAX_ENTRIES;
  const maxTotal = opts.maxTotalBytes ?? DATASET_LIMITS.ZIP_MAX_TOTAL_BYTES;
  const maxRatio = opts.maxRatio ?? DATASET_LIMITS.ZIP_MAX_RATIO;
  const grace = opts.ratioGraceBytes ?? DATASET_LIMITS.ZIP_RATIO_GRACE_BYTES;
  const archive = path.basename(zipPath);

  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true });
  } catch (err) {
    throw new DatasetError('zip_rejected', `${archive}: not a readable zip archive (${(err as Error).message})`, { file: archive, rule: 'malformed', cause: err });
  }
  await fs.mkdir(path.dirname(destDir), { recursive: true });
  const tmp = path.join(path.dirname(destDir), `.${path.basename(destDir)}.${randomBytes(4).toString('hex')}.tmp`);
  const result: ZipExtraction = { dir: destDir, files: [], skipped: [], bytes: 0 };
  try {
    if (zip.entryCount > maxEntries) {
      throw new DatasetError('zip_rejected', `${archive}: ${zip.entryCount} entries, more than the limit of ${maxEntries} (rule: too_many_entries)`, { file: archive, rule: 'too_many_entries' });
    }
    await fs.mkdir(tmp);
    const seenFiles = new Set<string>();
    const seenDirs = new Set<string>();
    let entries = 0;
    let declaredTotal = 0;
    let name = '';
    try {
      for await (const entry of zip.eachEntry() as AsyncIterable<Entry>) {
        if (opts.signal?.aborted) throw new DatasetError('cancelled', 'zip extraction cancelled');
        entries++;
        name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
        if (entries > maxEntries) throw reject('too_many_entries', name, `more than ${maxEntries} entries`);
        const segs = checkEntryName(name);
        const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
        if (mode === S_IFLNK) throw reject('symlink', name, 'symbolic link');
        const isDir = name.endsWith('/') || mode === S_IFDIR;
        if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) throw reject('symlink', name, `not a regular file (mode ${mode.toString(8)})`);
        if (entry.isEncrypted()) throw reject('encrypted', name, 'encrypted entry');
        if (!isDir && entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
          throw reject('compression_method', name, `compression method ${entry.compressionMethod} (only stored and deflate are read)`);
        }

        // Names are compared as a case-insensitive file system would see them.
        const key = segs.join('/').normalize('NFC').toLowerCase();
        const parents = segs.slice(0, -1).map((_, i) => segs.slice(0, i + 1).join('/').normalize('NFC').toLowerCase());
        if (seenFiles.has(key) || (isDir ? false : seenDirs.has(key))) throw reject('duplicate', name, 'a second entry with this name');
        if (parents.some((p) => seenFiles.has(p))) throw reject('duplicate', name, 'inside a folder that is also a file entry');
        for (const p of parents) seenDirs.add(p);
        if (isDir) {
          seenDirs.add(key);
          continue;
        }
        seenFiles.add(key);

        const base = segs[segs.length - 1]!;
        if (base.toLowerCase().endsWith('.zip')) throw reject('nested_archive', name, 'an archive inside the archive');
        if (!formatOf(base)) {
          result.skipped.push({ name, reason: 'not a dataset file (.txt, .jsonl, .json, .csv, .tsv, .parquet)' });
          continue;
        }

        // Declared sizes first (cheap), then counted while inflating (headers can lie).
        declaredTotal += entry.uncompressedSize;
        if (declaredTotal > maxTotal) throw reject('too_large', name, `the archive declares more than ${maxTotal} inflated bytes`);
        if (entry.uncompressedSize > grace && entry.uncompressedSize / Math.max(1, entry.compressedSize) > maxRatio) {
          throw reject('compression_ratio', name, `declares ${entry.uncompressedSize} bytes from ${entry.compressedSize} compressed, more than ${maxRatio}×`);
        }

        const target = path.join(tmp, ...segs);
        if (!target.startsWith(tmp + path.sep)) throw reject('path_traversal', name, 'resolves outside the destination');
        await fs.mkdir(path.dirname(target), { recursive: true });
        const meter = new Meter(name, entry.compressedSize, maxTotal - result.bytes, maxTotal, maxRatio, grace);
        const stream = await zip.openReadStreamPromise(entry);
        await pipeline(stream, meter, createWriteStream(target, { flags: 'wx' }), ...(opts.signal ? [{ signal: opts.signal }] : []));
        result.bytes += meter.bytes;
        result.files.push({ name, path: path.join(destDir, ...segs), bytes: meter.bytes });
        opts.onProgress?.({ entries, entriesTotal: zip.entryCount, bytes: result.bytes });
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' || opts.signal?.aborted) throw new DatasetError('cancelled', 'zip extraction cancelled');
      throw fromYauzl(err, name || archive);
    }
    if (opts.signal?.aborted) throw new DatasetError('cancelled', 'zip extraction cancelled');
    await fs.rename(tmp, destDir);
    return result;
  } catch (err) {
    zip.close();
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
