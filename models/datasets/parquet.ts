/**
 * The text column of a parquet file, one row group at a time, read with
 * hyparquet (a maintained pure-JS reader) and hyparquet-compressors (snappy,
 * gzip, zstd, brotli, lz4).
 *
 * The file is never read whole: hyparquet sees it through an AsyncBuffer over
 * an open file handle, which serves each byte range it asks for (the footer,
 * then the text column's chunk of one row group) with a positioned read. Only
 * the text column is read, and one row group at a time, so memory is bounded
 * by the largest row group's text column (checked against
 * `maxChunkBytes` from the footer before it is read).
 */
import fs, { type FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DatasetError, throwIfAborted } from './errors.ts';
import { DATASET_LIMITS } from './limits.ts';

/** One value of the text column. */
export interface ParquetText {
  /** 0-based row index in the file */
  row: number;
  /** the value, or null when it is null or not a string (see `reason`) */
  text: string | null;
  /** why `text` is null: e.g. 'null', 'a number' */
  reason?: string;
}

/** Options of {@link readParquetText}. */
export interface ParquetReadOptions {
  /** column holding the text; default 'text' */
  textColumn?: string;
  /** largest uncompressed text column chunk of one row group, bytes */
  maxChunkBytes?: number;
  /** largest footer, bytes */
  maxFooterBytes?: number;
  /** name of the file in messages; default its path */
  name?: string;
  signal?: AbortSignal;
}

/** An AsyncBuffer over an open file: each slice is one positioned read. */
export function fileHandleBuffer(handle: FileHandle, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end: number = byteLength): Promise<ArrayBuffer> {
      const s = Math.max(0, Math.min(start, byteLength));
      const e = Math.max(s, Math.min(end, byteLength));
      const buf = new Uint8Array(e - s);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await handle.read(buf, off, buf.length - off, s + off);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${s + off}`);
        off += bytesRead;
      }
      return buf.buffer;
    },
  };
}

/** The top-level column names of a parquet file's schema. */
function topLevelColumns(metadata: FileMetaData): SchemaTree[] {
  return parquetSchema(metadata).children;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary';
  return `a ${typeof value}`;
}

/**
 * Values of the text column of a parquet file, in row order, one row group at
 * a time. `onRowGroup` is called after each row group with the rows done so
 * far and the file's row count (for progress).
 *
 * @throws DatasetError `bad_file` (not parquet, corrupt), `no_column` (listing the columns there are),
 *   `unsupported` (the column is not a string column), `too_large` (a row group over `maxChunkBytes`), `cancelled`
 */
export async function* readParquetText(
  file: string,
  opts: ParquetReadOptions = {},
  onRowGroup?: (rowsDone: number, rowsTotal: number) => void,
): AsyncGenerator<ParquetText> {
  const name = opts.name ?? file;
  const column = opts.textColumn ?? 'text';
  const maxChunk = opts.maxChunkBytes ?? DATASET_LIMITS.MAX_PARQUET_CHUNK_BYTES;
  const maxFooter = opts.maxFooterBytes ?? DATASET_LIMITS.MAX_PARQUET_FOOTER_BYTES;
  const bad = (why: string, cause?: unknown): DatasetError => new DatasetError('bad_file', `${name}: not a readable parquet file (${why})`, { file: name, cause });

  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size < 12) throw bad(`${size} bytes is too short`);
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    if (head.toString('latin1') !== 'PAR1' || tail.toString('latin1', 4) !== 'PAR1') throw bad('no PAR1 magic at its start and end');
    const footer = tail.readUInt32LE(0);
    if (footer > size - 12) throw bad(`footer length ${footer} is larger than the file`);
    if (footer > maxFooter) throw new DatasetError('too_large', `${name}: parquet footer of ${footer} bytes is over the limit of ${maxFooter}`, { file: name });

    const buffer = fileHandleBuffer(handle, size);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (err) {
      throw bad((err as Error).message, err);
    }
    const columns = topLevelColumns(metadata);
    const col = columns.find((c) => c.element.name === column);
    if (!col) {
      throw new DatasetError('no_column', `${name}: no column "${column}" (columns: ${columns.map((c) => c.element.name).join(', ') || 'none'})`, { file: name });
    }
    if (col.children.length > 0 || col.element.type !== 'BYTE_ARRAY' || col.element.repetition_type === 'REPEATED') {
      const kind = col.children.length > 0 ? 'a nested (struct or list) column' : `a ${col.element.repetition_type === 'REPEATED' ? 'repeated ' : ''}${col.element.type ?? 'group'} column`;
      throw new DatasetError('unsupported', `${name}: column "${column}" is ${kind}, not a text (string) column`, { file: name });
    }

    const rowsTotal = Number(metadata.num_rows);
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      throwIfAborted(opts.signal);
      const groupRows = Number(group.num_rows);
      const chunk = group.columns.find((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === column);
      const chunkBytes = Number(chunk?.meta_data?.total_uncompressed_size ?? 0n);
      if (chunkBytes > maxChunk) {
        throw new DatasetError(
          'too_large',
          `${name}: row ${groupStart}: the row group's "${column}" column is ${chunkBytes} bytes uncompressed, over the limit of ${maxChunk} (rewrite the file with smaller row groups)`,
          { file: name, row: groupStart },
        );
      }
      if (groupRows > 0) {
        let values: unknown[] = [];
        try {
          await parquetRead({
            file: buffer,
            metadata,
            columns: [column],
            rowStart: groupStart,
            rowEnd: groupStart + groupRows,
            compressors,
            onComplete: (rows: unknown[][]) => {
              values = rows.map((r) => r[0]);
            },
          });
        } catch (err) {
          throw new DatasetError('bad_file', `${name}: rows ${groupStart}-${groupStart + groupRows - 1} cannot be read (${(err as Error).message})`, { file: name, row: groupStart, cause: err });
        }
        for (let i = 0; i < values.length; i++) {
          const v = values[i];
          if (typeof v === 'string') yield { row: groupStart + i, text: v };
          else yield { row: groupStart + i, text: null, reason: describe(v) };
        }
        values = [];
      }
      groupStart += groupRows;
      onRowGroup?.(groupStart, rowsTotal);
    }
  } finally {
    await handle.close();
  }
}
