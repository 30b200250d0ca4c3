/**
 * Documents out of dataset files, as one async iterable over many files:
 *
 * - **plain text** (`.txt`, `.text`): split by `textSplit` — `'paragraph'`
 *   (the default: runs of non-blank lines separated by blank lines, which fits
 *   both hard-wrapped books and one-paragraph-per-line corpora like wikitext),
 *   `'line'` (every non-blank line, as Hugging Face `datasets`' text loader
 *   does by default) or `'document'` (the whole file). A document longer than
 *   `maxTextDocumentChars` is cut at line breaks, so memory stays bounded.
 * - **JSON Lines** (`.jsonl`, `.ndjson`, and `.json` holding JSON Lines, as on
 *   the hub): the string field `textColumn` of each line's object.
 * - **CSV** (`.csv`, `.tsv` with a tab): a header row, then records
 *   (RFC 4180 quoting, see csv.ts); the column named `textColumn`.
 * - **parquet**: the column `textColumn`, one row group at a time (parquet.ts).
 *
 * Text formats may be gzipped (`.jsonl.gz`, …). Files must be UTF-8.
 *
 * A row that cannot be used (bad JSON, no such field, a non-string value, a
 * ragged CSV record, a null parquet value, invalid UTF-8, an over-long line)
 * throws a `bad_row` error naming the file and line (or row) — or, with
 * `onBadRow: 'skip'`, is skipped and counted in `skippedRows`. Blank lines and
 * whitespace-only plain-text paragraphs are not documents and are not counted.
 * Empty strings in a text column are passed on (the tokenizer skips them).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseCsv } from './csv.ts';
import { DatasetError, throwIfAborted } from './errors.ts';
import { DATASET_LIMITS } from './limits.ts';
import { decodeLine, fileChunks, splitLines, type ReadCounters } from './lines.ts';
import { readParquetText } from './parquet.ts';

/** A document and where it came from. */
export interface SourceDocument {
  text: string;
  /**
   * `name:LINE` for text formats (1-based line where the document starts;
   * for CSV the line where the record starts), `name#ROW` for parquet (0-based
   * row index), where `name` is the file's display name.
   */
  source: string;
}

/** The file formats Loupe reads documents from. */
export type DataFormat = 'txt' | 'jsonl' | 'csv' | 'parquet';

/** How a file is read, from its name. */
export interface FileFormat {
  format: DataFormat;
  /** the file is gzip-compressed (name ends in `.gz`) */
  gzip: boolean;
  /** CSV delimiter: `,` for .csv, a tab for .tsv */
  delimiter?: string;
}

const EXTENSIONS: Record<string, Omit<FileFormat, 'gzip'>> = {
  '.txt': { format: 'txt' },
  '.text': { format: 'txt' },
  '.jsonl': { format: 'jsonl' },
  '.ndjson': { format: 'jsonl' },
  '.json': { format: 'jsonl' },
  '.csv': { format: 'csv', delimiter: ',' },
  '.tsv': { format: 'csv', delimiter: '\t' },
  '.parquet': { format: 'parquet' },
};

/**
 * The format of a data file from its name (case-insensitive), or null when
 * Loupe does not read it. Text formats may end in `.gz`; parquet may not.
 *
 * @example formatOf('data/train-00000-of-00002.parquet') // {format: 'parquet', gzip: false}
 * @example formatOf('c4-train.00000-of-01024.json.gz') // {format: 'jsonl', gzip: true}
 */
export function formatOf(name: string): FileFormat | null {
  let lower = name.toLowerCase();
  const gzip = lower.endsWith('.gz');
  if (gzip) lower = lower.slice(0, -3);
  const found = EXTENSIONS[path.extname(lower)];
  if (!found || (gzip && found.format === 'parquet')) return null;
  return { ...found, gzip };
}

/** A file to read: its path on disk and the name shown in sources and errors (default: its base name). */
export interface DataFile {
  path: string;
  name?: string;
}

/** How a plain-text file is cut into documents (see the module comment). */
export type TextSplit = 'line' | 'paragraph' | 'document';

/** Options of {@link openDocuments}; the limits default to {@link DATASET_LIMITS}. */
export interface ReadOptions {
  /** field (JSON Lines), header (CSV) or column (parquet) holding the text; default 'text' */
  textColumn?: string;
  /** what a bad row does: throw a `bad_row` error (default) or be skipped and counted */
  onBadRow?: 'error' | 'skip';
  /** how plain-text files are cut into documents; default 'paragraph' */
  textSplit?: TextSplit;
  /** longest line (or CSV record), bytes; default {@link DATASET_LIMITS.MAX_LINE_BYTES} */
  maxLineBytes?: number;
  /** longest plain-text document, characters, before it is cut at a line break; default {@link DATASET_LIMITS.MAX_TEXT_DOCUMENT_CHARS} */
  maxTextDocumentChars?: number;
  /** largest text column of one parquet row group, bytes; default {@link DATASET_LIMITS.MAX_PARQUET_CHUNK_BYTES} */
  maxParquetChunkBytes?: number;
  signal?: AbortSignal;
}

/** One file of a {@link DocumentStream}. */
export interface StreamFile {
  path: string;
  name: string;
  /** bytes on disk */
  bytes: number;
  format: FileFormat;
}

/**
 * Documents of several files, in order, with live counters for progress.
 * Iterating again starts over (and resets the counters).
 */
export interface DocumentStream extends AsyncIterable<SourceDocument> {
  readonly files: readonly StreamFile[];
  /** size of all files on disk, bytes */
  readonly bytesTotal: number;
  /** bytes of the files consumed so far (approximate within a parquet file: by rows done) */
  readonly bytesRead: number;
  /** bad rows skipped so far (onBadRow: 'skip') */
  readonly skippedRows: number;
}

/**
 * Opens data files for reading as one stream of documents. Checks now that
 * every file exists and has a known format; reading (and format errors)
 * happen while iterating.
 *
 * @throws DatasetError `unsupported` for an unknown extension; the fs error for a missing file
 * @example
 * const docs = await openDocuments(['a.jsonl', { path: '/tmp/x/part-0.parquet', name: 'data/part-0.parquet' }]);
 * for await (const { text, source } of docs) …
 */
export async function openDocuments(files: readonly (string | DataFile)[], opts: ReadOptions = {}): Promise<DocumentStream> {
  const list: StreamFile[] = [];
  for (const f of files) {
    const file = typeof f === 'string' ? { path: f } : f;
    const name = file.name ?? path.basename(file.path);
    const format = formatOf(name) ?? formatOf(file.path);
    if (!format) {
      throw new DatasetError('unsupported', `${name}: not a dataset file Loupe reads (expected .txt, .jsonl, .json, .csv, .tsv, .parquet, or a text one of them gzipped)`, { file: name });
    }
    const stat = await fs.stat(file.path);
    if (!stat.isFile()) throw new DatasetError('bad_file', `${name}: not a file`, { file: name });
    list.push({ path: file.path, name, bytes: stat.size, format });
  }
  const counters: ReadCounters = { bytesRead: 0, skippedRows: 0 };
  const bytesTotal = list.reduce((n, f) => n + f.bytes, 0);
  return {
    files: list,
    bytesTotal,
    get bytesRead() {
      return counters.bytesRead;
    },
    get skippedRows() {
      return counters.skippedRows;
    },
    async *[Symbol.asyncIterator]() {
      counters.bytesRead = 0;
      counters.skippedRows = 0;
      let base = 0;
      for (const file of list) {
        throwIfAborted(opts.signal);
        yield* readFile(file, opts, counters, base);
        base += file.bytes;
        counters.bytesRead = base;
      }
    },
  };
}

/** Documents of one file; `base` is the bytes of the files before it (for parquet progress). */
function readFile(file: StreamFile, opts: ReadOptions, counters: ReadCounters, base: number): AsyncGenerator<SourceDocument> {
  switch (file.format.format) {
    case 'txt':
      return readText(file, opts, counters);
    case 'jsonl':
      return readJsonLines(file, opts, counters);
    case 'csv':
      return readCsv(file, opts, counters);
    case 'parquet':
      return readParquet(file, opts, counters, base);
  }
}

/** Throws a bad_row error, or counts the row as skipped. */
function badRow(opts: ReadOptions, counters: ReadCounters, err: DatasetError): void {
  if (opts.onBadRow === 'skip') counters.skippedRows++;
  else throw err;
}

function lineError(file: StreamFile, line: number, why: string): DatasetError {
  return new DatasetError('bad_row', `${file.name}: line ${line}: ${why}`, { file: file.name, line });
}

/** Cuts a string into pieces of at most `max` UTF-16 units without splitting a surrogate pair. */
function hardPieces(text: string, max: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + max);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - i > 1 && last >= 0xd800 && last <= 0xdbff) end--;
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

function isBlank(text: string): boolean {
  return text.trim() === '';
}

async function* readText(file: StreamFile, opts: ReadOptions, counters: ReadCounters): AsyncGenerator<SourceDocument> {
  const mode = opts.textSplit ?? 'paragraph';
  const maxChars = opts.maxTextDocumentChars ?? DATASET_LIMITS.MAX_TEXT_DOCUMENT_CHARS;
  const maxLine = opts.maxLineBytes ?? DATASET_LIMITS.MAX_LINE_BYTES;
  let parts: string[] = [];
  let chars = 0;
  let startLine = 1;
  const flush = (): SourceDocument | null => {
    while (parts.length > 0 && isBlank(parts[parts.length - 1]!)) parts.pop();
    const text = parts.join('\n');
    parts = [];
    chars = 0;
    return isBlank(text) ? null : { text, source: `${file.name}:${startLine}` };
  };
  for await (const l of splitLines(fileChunks(file.path, file.format.gzip, counters, opts.signal), maxLine)) {
    if (l.tooLong) {
      badRow(opts, counters, lineError(file, l.line, `longer than ${maxLine} bytes`));
      continue;
    }
    const text = decodeLine(l.bytes);
    if (text === null) {
      badRow(opts, counters, lineError(file, l.line, 'not valid UTF-8 (convert the file to UTF-8)'));
      continue;
    }
    const blank = isBlank(text);
    if (mode === 'line') {
      if (blank) continue;
      for (const piece of hardPieces(text, maxChars)) yield { text: piece, source: `${file.name}:${l.line}` };
      continue;
    }
    if (blank && mode === 'paragraph') {
      const doc = flush();
      if (doc) yield doc;
      continue;
    }
    if (parts.length === 0 && blank) continue; // leading blank lines of a document
    // Would the document grow past the limit (with the joining newline)? Cut it here, at a line break.
    if (parts.length > 0 && chars + 1 + text.length > maxChars) {
      const doc = flush();
      if (doc) yield doc;
    }
    if (parts.length === 0) startLine = l.line;
    if (text.length > maxChars) {
      const pieces = hardPieces(text, maxChars);
      for (let i = 0; i < pieces.length - 1; i++) yield { text: pieces[i]!, source: `${file.name}:${l.line}` };
      parts.push(pieces[pieces.length - 1]!);
      chars = pieces[pieces.length - 1]!.length;
      continue;
    }
    chars += (parts.length > 0 ? 1 : 0) + text.length;
    parts.push(text);
  }
  const doc = flush();
  if (doc) yield doc;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

async function* readJsonLines(file: StreamFile, opts: ReadOptions, counters: ReadCounters): AsyncGenerator<SourceDocument> {
  const column = opts.textColumn ?? 'text';
  const maxLine = opts.maxLineBytes ?? DATASET_LIMITS.MAX_LINE_BYTES;
  let documents = 0;
  let missing = 0;
  let fields: string[] = [];
  let first = true;
  for await (const l of splitLines(fileChunks(file.path, file.format.gzip, counters, opts.signal), maxLine)) {
    if (l.tooLong) {
      badRow(opts, counters, lineError(file, l.line, `longer than ${maxLine} bytes`));
      continue;
    }
    const text = decodeLine(l.bytes);
    if (text === null) {
      badRow(opts, counters, lineError(file, l.line, 'not valid UTF-8 (convert the file to UTF-8)'));
      continue;
    }
    if (isBlank(text)) continue;
    if (first) {
      first = false;
      if (text.trimStart().startsWith('[')) {
        throw new DatasetError('unsupported', `${file.name}: a JSON array; Loupe reads JSON Lines (one JSON object per line)`, { file: file.name, line: l.line });
      }
    }
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (err) {
      badRow(opts, counters, lineError(file, l.line, `not valid JSON (${(err as Error).message})`));
      continue;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      badRow(opts, counters, lineError(file, l.line, `${typeName(row)}, not a JSON object`));
      continue;
    }
    const value = (row as Record<string, unknown>)[column];
    if (typeof value !== 'string') {
      if (value === undefined) {
        missing++;
        fields = Object.keys(row);
      }
      const why = value === undefined ? `no "${column}" field (fields: ${Object.keys(row).join(', ') || 'none'})` : `"${column}" is ${typeName(value)}, not a string`;
      badRow(opts, counters, lineError(file, l.line, why));
      continue;
    }
    documents++;
    yield { text: value, source: `${file.name}:${l.line}` };
  }
  // Every row skipped for want of the field: the column name is wrong, not the rows.
  if (documents === 0 && missing > 0) {
    throw new DatasetError('no_column', `${file.name}: no line has a "${column}" field (fields: ${fields.join(', ') || 'none'})`, { file: file.name });
  }
}

/** UTF-8 text chunks of a byte stream; invalid UTF-8 is a bad_file error. */
async function* utf8Chunks(chunks: AsyncIterable<Buffer>, file: StreamFile): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of chunks) yield decoder.decode(chunk, { stream: true });
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch (err) {
    if (err instanceof TypeError) throw new DatasetError('bad_file', `${file.name}: not valid UTF-8 (convert the file to UTF-8)`, { file: file.name, cause: err });
    throw err;
  }
}

async function* readCsv(file: StreamFile, opts: ReadOptions, counters: ReadCounters): AsyncGenerator<SourceDocument> {
  const column = opts.textColumn ?? 'text';
  const records = parseCsv(utf8Chunks(fileChunks(file.path, file.format.gzip, counters, opts.signal), file), {
    delimiter: file.format.delimiter ?? ',',
    maxRecordChars: opts.maxLineBytes ?? DATASET_LIMITS.MAX_LINE_BYTES,
    file: file.name,
  });
  let header: string[] | null = null;
  let index = -1;
  for await (const rec of records) {
    if (header === null) {
      header = rec.fields;
      if (header[0]?.charCodeAt(0) === 0xfeff) header[0] = header[0].slice(1);
      index = header.indexOf(column);
      if (index === -1) {
        throw new DatasetError('no_column', `${file.name}: no column "${column}" in the header row (columns: ${header.join(', ')})`, { file: file.name, line: rec.line });
      }
      continue;
    }
    if (rec.fields.length === 1 && rec.fields[0] === '' && header.length > 1) continue; // a blank line
    if (rec.fields.length !== header.length) {
      badRow(opts, counters, lineError(file, rec.line, `${rec.fields.length} fields, but the header has ${header.length}`));
      continue;
    }
    yield { text: rec.fields[index]!, source: `${file.name}:${rec.line}` };
  }
  if (header === null) throw new DatasetError('bad_file', `${file.name}: empty (a CSV file needs a header row)`, { file: file.name });
}

async function* readParquet(file: StreamFile, opts: ReadOptions, counters: ReadCounters, base: number): AsyncGenerator<SourceDocument> {
  const values = readParquetText(
    file.path,
    {
      textColumn: opts.textColumn ?? 'text',
      name: file.name,
      ...(opts.maxParquetChunkBytes === undefined ? {} : { maxChunkBytes: opts.maxParquetChunkBytes }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
    (done, total) => {
      counters.bytesRead = base + (total > 0 ? Math.round((file.bytes * done) / total) : file.bytes);
    },
  );
  const column = opts.textColumn ?? 'text';
  for await (const v of values) {
    if (v.text === null) {
      badRow(opts, counters, new DatasetError('bad_row', `${file.name}: row ${v.row}: "${column}" is ${v.reason}, not a string`, { file: file.name, row: v.row }));
      continue;
    }
    yield { text: v.text, source: `${file.name}#${v.row}` };
  }
}
