/**
 * The on-disk layout of a tokenized dataset, a folder holding:
 *
 * - `tokens.bin` — every document's token ids back to back, uint32
 *   little-endian, no header: token `i` is bytes `[4i, 4i + 4)`.
 * - `docs.bin` — document boundaries: `documents + 1` uint64 little-endian
 *   offsets into tokens.bin (in tokens), starting with 0 and ending with the
 *   token count; document `d` is tokens `[off[d], off[d + 1])`. Any token
 *   position maps back to its document by binary search ({@link documentAt}).
 * - `stats.json` — {@link DatasetStats} (see stats.ts).
 * - `meta.json` — {@link DatasetMeta}: format version, tokenizer, settings,
 *   counts. Written last: a folder without it is incomplete.
 *
 * Every file is written under a temporary name and renamed into place. This
 * module reads the layout with positioned reads (never a whole file), and
 * holds the chunked writers that tokenize.ts fills.
 */
import { randomBytes } from 'node:crypto';
import fs, { type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatasetError } from './errors.ts';

/** File names inside a tokenized dataset folder, and the format tag of its meta.json. */
export const TOKENS_FILE = 'tokens.bin';
export const DOCS_FILE = 'docs.bin';
export const META_FILE = 'meta.json';
export const STATS_FILE = 'stats.json';
export const FORMAT_VERSION = 'loupe.tokens/1';

/** meta.json of a tokenized dataset. */
export interface DatasetMeta {
  format: typeof FORMAT_VERSION;
  tokenizer: {
    /** the model whose tokenizer was used (its name or id, as the caller gave it) */
    model: string;
    vocabSize: number;
    bosId: number | null;
    eosId: number | null;
    bosToken: string | null;
    eosToken: string | null;
  };
  settings: {
    /** BOS prepended to every document */
    addBos: boolean;
    /** EOS appended to every document */
    addEos: boolean;
    maxDocuments: number | null;
    maxTokens: number | null;
  };
  counts: {
    documents: number;
    tokens: number;
    /** documents with empty text, not written */
    emptyDocuments: number;
    /** bad rows skipped by the reader */
    skippedRows: number;
    /** bytes of the source files read */
    bytesRead: number;
    /** stopped at maxDocuments or maxTokens with input left (the last document may be cut) */
    truncated: boolean;
  };
  files: {
    tokens: { name: typeof TOKENS_FILE; dtype: 'uint32'; byteOrder: 'little'; count: number };
    docs: { name: typeof DOCS_FILE; dtype: 'uint64'; byteOrder: 'little'; count: number };
  };
  /** whatever the caller recorded about the source (repository, split, column, files) */
  source: Record<string, unknown>;
  /** ISO 8601 */
  createdAt: string;
}

const LITTLE = os.endianness() === 'LE';

/** Swaps the bytes of each 4- or 8-byte element in place (only on big-endian hosts). */
function toLittle(bytes: Uint8Array, width: 4 | 8): void {
  if (LITTLE) return;
  for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** A temporary file beside `target`, renamed onto it by {@link commit}. */
export function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Appends uint32 values to a file through a fixed buffer of `capacity`
 * values, written out whenever it fills: memory stays at the buffer whatever
 * the total. `maxBuffered` records the most values it ever held.
 */
export class Uint32FileWriter {
  private readonly buf: Uint32Array;
  private fill = 0;
  /** values written (flushed or buffered) */
  count = 0;
  /** the most values held in the buffer at once */
  maxBuffered = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly capacity: number,
  ) {
    this.buf = new Uint32Array(capacity);
  }

  async push(values: ArrayLike<number> & { subarray?: (a: number, b: number) => ArrayLike<number> }): Promise<void> {
    let off = 0;
    while (off < values.length) {
      const n = Math.min(this.capacity - this.fill, values.length - off);
      if (values instanceof Uint32Array) this.buf.set(values.subarray(off, off + n), this.fill);
      else for (let i = 0; i < n; i++) this.buf[this.fill + i] = values[off + i]!;
      this.fill += n;
      off += n;
      this.count += n;
      if (this.fill > this.maxBuffered) this.maxBuffered = this.fill;
      if (this.fill === this.capacity) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return;
    const bytes = new Uint8Array(this.buf.buffer, 0, this.fill * 4);
    toLittle(bytes, 4);
    await writeAll(this.handle, bytes);
    this.fill = 0;
  }
}

/** Appends uint64 values (given as numbers, exact below 2^53) through a fixed buffer, as {@link Uint32FileWriter}. */
export class Uint64FileWriter {
  private readonly buf: BigUint64Array;
  private fill = 0;
  count = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly capacity: number,
  ) {
    this.buf = new BigUint64Array(capacity);
  }

  async push(value: number): Promise<void> {
    this.buf[this.fill++] = BigInt(value);
    this.count++;
    if (this.fill === this.capacity) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return;
    const bytes = new Uint8Array(this.buf.buffer, 0, this.fill * 8);
    toLittle(bytes, 8);
    await writeAll(this.handle, bytes);
    this.fill = 0;
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += (await handle.write(bytes, off, bytes.length - off)).bytesWritten;
}

/** Writes JSON through a temporary file renamed onto `file`. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = tempName(file);
  try {
    await fs.writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { flag: 'wx' });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Reads exactly `length` bytes at `position`. */
async function readExactly(handle: FileHandle, length: number, position: number, file: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await handle.read(out, off, length - off, position + off);
    if (bytesRead === 0) throw new DatasetError('bad_file', `${file}: shorter than its meta.json says (no bytes at ${position + off})`, { file });
    off += bytesRead;
  }
  return out;
}

/**
 * Reads meta.json of a tokenized dataset folder.
 *
 * @throws DatasetError `bad_file` when it is missing (an incomplete folder) or not this format
 */
export async function readMeta(dir: string): Promise<DatasetMeta> {
  const file = path.join(dir, META_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (the dataset was not tokenized, or not to the end)' : `unreadable (${(err as Error).message})`;
    throw new DatasetError('bad_file', `${file}: ${why}`, { file, cause: err });
  }
  if (typeof raw !== 'object' || raw === null || (raw as { format?: unknown }).format !== FORMAT_VERSION) {
    throw new DatasetError('bad_file', `${file}: not a ${FORMAT_VERSION} meta file`, { file });
  }
  return raw as DatasetMeta;
}

/**
 * An open tokenized dataset: counts from meta.json, and positioned reads of
 * tokens and document offsets. Close it when done.
 */
export interface TokenStore {
  readonly dir: string;
  readonly meta: DatasetMeta;
  readonly documents: number;
  readonly tokens: number;
  /** Token ids `[start, start + count)`, clamped to the file. */
  readTokens(start: number, count: number): Promise<Uint32Array>;
  /** Offsets of documents `[first, first + count]` (count + 1 values; clamped), in tokens. */
  readOffsets(first: number, count: number): Promise<Float64Array>;
  close(): Promise<void>;
}

/**
 * Opens a tokenized dataset folder for positioned reads.
 *
 * @throws DatasetError `bad_file` when meta.json is missing or the files are shorter than it says
 */
export async function openTokenStore(dir: string): Promise<TokenStore> {
  const meta = await readMeta(dir);
  const tokensPath = path.join(dir, TOKENS_FILE);
  const docsPath = path.join(dir, DOCS_FILE);
  const tokens = await fs.open(tokensPath, 'r');
  let docs: FileHandle;
  try {
    docs = await fs.open(docsPath, 'r');
  } catch (err) {
    await tokens.close();
    throw err;
  }
  const [ts, ds] = await Promise.all([tokens.stat(), docs.stat()]);
  const nTokens = meta.counts.tokens;
  const nDocs = meta.counts.documents;
  if (ts.size !== nTokens * 4 || ds.size !== (nDocs + 1) * 8) {
    await Promise.all([tokens.close(), docs.close()]);
    throw new DatasetError('bad_file', `${dir}: tokens.bin (${ts.size} bytes) or docs.bin (${ds.size} bytes) does not match meta.json (${nTokens} tokens, ${nDocs} documents)`, { file: dir });
  }
  return {
    dir,
    meta,
    documents: nDocs,
    tokens: nTokens,
    async readTokens(start, count) {
      const s = Math.max(0, Math.min(start, nTokens));
      const n = Math.max(0, Math.min(count, nTokens - s));
      const bytes = await readExactly(tokens, n * 4, s * 4, tokensPath);
      toLittle(bytes, 4);
      return new Uint32Array(bytes.buffer, 0, n);
    },
    async readOffsets(first, count) {
      const s = Math.max(0, Math.min(first, nDocs));
      const n = Math.max(0, Math.min(count, nDocs - s)) + 1;
      const bytes = await readExactly(docs, n * 8, s * 8, docsPath);
      toLittle(bytes, 8);
      const big = new BigUint64Array(bytes.buffer, 0, n);
      return Float64Array.from(big, (v) => Number(v));
    },
    async close() {
      await Promise.all([tokens.close(), docs.close()]);
    },
  };
}

/**
 * Every document offset of a dataset (documents + 1 values, in tokens), for
 * cutting windows ({@link sequenceWindows}) or mapping positions. 8 bytes per
 * document in memory.
 */
export async function readDocOffsets(dir: string): Promise<Float64Array> {
  const store = await openTokenStore(dir);
  try {
    return await store.readOffsets(0, store.documents);
  } finally {
    await store.close();
  }
}

/**
 * The document holding token `position` and the position within it, given
 * the document offsets (N + 1 values, as in docs.bin). Binary search.
 *
 * @throws RangeError when position is outside `[0, offsets[N])`
 * @example documentAt([0, 5, 9], 7) // {document: 1, position: 2}
 */
export function documentAt(offsets: ArrayLike<number>, position: number): { document: number; position: number } {
  const n = offsets.length - 1;
  if (n < 1 || !(position >= 0 && position < offsets[n]!)) throw new RangeError(`token position ${position} is outside the dataset (0 to ${n < 1 ? 0 : offsets[n]! - 1})`);
  let lo = 0;
  let hi = n - 1;
  // The last document whose start is <= position (empty documents are never written, so it is unique).
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offsets[mid]! <= position) lo = mid;
    else hi = mid - 1;
  }
  return { document: lo, position: position - offsets[lo]! };
}
