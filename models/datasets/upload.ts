/**
 * An uploaded dataset file, streamed to disk: chunk by chunk (never held
 * whole in memory), stopped as soon as it passes the size limit, written to a
 * temporary name and renamed when complete, so a failed, oversized or
 * cancelled upload leaves nothing under the real name.
 *
 * The user's file name never reaches the file system as given: only its
 * base name is kept, characters outside `[A-Za-z0-9._-]` become `_`, and its
 * extension must be one Loupe reads (or `.zip`, extracted by zip.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatasetError } from './errors.ts';
import { DATASET_LIMITS } from './limits.ts';
import { formatOf, type DataFormat } from './sources.ts';

/** What an upload is: a data file of one format, or a zip of them. */
export type UploadKind = DataFormat | 'zip';

/** Options of {@link saveUpload}. */
export interface UploadOptions {
  /** largest file accepted, bytes; default {@link DATASET_LIMITS.MAX_UPLOAD_BYTES} */
  maxBytes?: number;
  /** called as bytes arrive (at most once per chunk) */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** An upload on disk. */
export interface SavedUpload {
  /** where it is on disk */
  path: string;
  /** the safe file name used on disk */
  name: string;
  bytes: number;
  kind: UploadKind;
}

const MAX_NAME = 200;

/**
 * A safe on-disk name for a user's file name, and what kind of file it is.
 *
 * @throws DatasetError `unsupported` for an extension Loupe does not read
 * @example safeUploadName('C:\\Users\\me\\my data (1).jsonl') // {name: 'my_data__1_.jsonl', kind: 'jsonl'}
 */
export function safeUploadName(fileName: string): { name: string; kind: UploadKind } {
  const base = fileName.split(/[/\\]/).pop() ?? '';
  let name = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '');
  if (name.length > MAX_NAME) name = name.slice(name.length - MAX_NAME);
  const kind: UploadKind | undefined = name.toLowerCase().endsWith('.zip') ? 'zip' : formatOf(name)?.format;
  if (!kind || name.length === 0) {
    throw new DatasetError('unsupported', `${JSON.stringify(fileName)}: not a dataset file Loupe reads (expected .txt, .jsonl, .json, .csv, .tsv, .parquet, a gzipped text file, or a .zip of them)`, { file: fileName });
  }
  return { name, kind };
}

async function* chunksOf(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  if ('getReader' in body) {
    const reader = body.getReader();
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          // The request body broke off (a client gone, a malformed chunked body): the upload ends, not the server.
          throw new DatasetError('cancelled', `upload cancelled: the request body could not be read (${(err as Error)?.message ?? String(err)})`, { cause: err });
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Stops the source when the upload is refused part-way.
      await reader.cancel().catch(() => {});
    }
  } else {
    yield* body;
  }
}

/**
 * Streams an upload into `dir` under a safe version of `fileName`.
 *
 * @param body the request body (a web ReadableStream or any async iterable of bytes)
 * @param dir folder to write into (created if missing)
 * @throws DatasetError `unsupported` (file type), `too_large` (over maxBytes; nothing is kept), `cancelled`
 */
export async function saveUpload(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, dir: string, fileName: string, opts: UploadOptions = {}): Promise<SavedUpload> {
  const { name, kind } = safeUploadName(fileName);
  const maxBytes = opts.maxBytes ?? DATASET_LIMITS.MAX_UPLOAD_BYTES;
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${randomBytes(4).toString('hex')}.part`);
  const handle = await fs.open(tmp, 'wx');
  let bytes = 0;
  try {
    for await (const chunk of chunksOf(body)) {
      if (opts.signal?.aborted) throw new DatasetError('cancelled', 'upload cancelled');
      bytes += chunk.length;
      if (bytes > maxBytes) throw new DatasetError('too_large', `${name}: larger than the upload limit of ${maxBytes} bytes`, { file: name });
      let off = 0;
      while (off < chunk.length) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
      opts.onProgress?.(bytes);
    }
    if (opts.signal?.aborted) throw new DatasetError('cancelled', 'upload cancelled');
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, target);
    return { path: target, name, bytes, kind };
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
