/**
 * Byte streams of local files, and their lines: the shared bottom of the text
 * formats (plain text, JSON Lines, CSV). A file is read in 1 MiB chunks,
 * through gunzip when it ends in `.gz`, and cut at `\n` with a bound on the
 * length of one line, so a file of any size (or one line of absurd length)
 * takes bounded memory.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { DatasetError } from './errors.ts';

/** Read counters a reader advances as it goes (shared with the caller for progress). */
export interface ReadCounters {
  /** bytes of the files on disk consumed so far (compressed bytes for .gz) */
  bytesRead: number;
  /** rows or lines skipped as bad (onBadRow: 'skip') */
  skippedRows: number;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * The bytes of a file, decompressed when `gzip`, as an async iterable of
 * chunks. `counters.bytesRead` advances by the bytes read from disk.
 */
export async function* fileChunks(file: string, gzip: boolean, counters: ReadCounters, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const raw = createReadStream(file, { highWaterMark: CHUNK_BYTES, ...(signal ? { signal } : {}) });
  try {
    if (!gzip) {
      for await (const chunk of raw) {
        counters.bytesRead += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      return;
    }
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    raw.on('data', (c: string | Buffer) => {
      counters.bytesRead += c.length;
    });
    raw.on('error', (err) => gunzip.destroy(err));
    raw.pipe(gunzip);
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } finally {
      gunzip.destroy();
    }
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new DatasetError('cancelled', 'dataset import cancelled');
    if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' || (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
      throw new DatasetError('bad_file', `${file}: not a valid gzip file (${(err as Error).message})`, { file, cause: err });
    }
    throw err;
  } finally {
    raw.destroy();
  }
}

/** One line of a file: its bytes without the `\n` (and without a `\r` before it), or a marker that it was too long. */
export type Line = { line: number; bytes: Buffer; tooLong?: false } | { line: number; bytes: null; tooLong: true };

/**
 * Cuts a byte stream at `\n` (a `\r` before it is dropped too). A line longer
 * than `maxLineBytes` is not kept: it comes out as `{tooLong: true}` once its
 * end is reached, having cost at most `maxLineBytes` of memory. Line numbers
 * are 1-based. A last line without a final newline is a line too.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let line = 1;
  const finish = (tail: Buffer | null): Line => {
    if (tooLong) {
      tooLong = false;
      parts = [];
      partBytes = 0;
      return { line: line++, bytes: null, tooLong: true };
    }
    let bytes = parts.length === 0 ? (tail ?? Buffer.alloc(0)) : Buffer.concat(tail ? [...parts, tail] : parts);
    parts = [];
    partBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return { line: line++, bytes };
  };
  for await (const chunk of chunks) {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      const end = nl === -1 ? chunk.length : nl;
      if (!tooLong) {
        if (partBytes + (end - pos) > maxLineBytes) {
          tooLong = true;
          parts = [];
          partBytes = 0;
        } else if (nl === -1) {
          // Copy: the stream may reuse its buffer, and a subarray would pin the whole 1 MiB chunk.
          parts.push(Buffer.from(chunk.subarray(pos, end)));
          partBytes += end - pos;
        }
      }
      if (nl === -1) break;
      yield finish(tooLong ? null : chunk.subarray(pos, end));
      pos = nl + 1;
    }
  }
  if (tooLong || partBytes > 0) yield finish(null);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 text of a line's bytes, or null when they are not valid UTF-8. A byte-order mark is dropped. */
export function decodeLine(bytes: Buffer): string | null {
  try {
    const text = utf8.decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    return null;
  }
}
