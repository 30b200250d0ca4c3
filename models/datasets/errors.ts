/**
 * The one error of dataset reading, upload, extraction and tokenization. Its
 * `code` says what kind of failure it is (an adapter maps it to an HTTP status
 * or a job failure); its message names the file — and the line, row or archive
 * entry — and what is wrong, in words a user can act on.
 */

export type DatasetErrorCode =
  /** a row or line that cannot be used (bad JSON, missing or non-string text, ragged CSV record) */
  | 'bad_row'
  /** a file that cannot be read as its format (truncated parquet, unterminated CSV quote, not UTF-8 JSON) */
  | 'bad_file'
  /** the chosen text column is not in the file */
  | 'no_column'
  /** a file type or feature Loupe does not read (an extension, a parquet column type, a zip compression method) */
  | 'unsupported'
  /** over a configured limit (upload size, line length, parquet row group size) */
  | 'too_large'
  /** a zip archive refused by a safety rule; `rule` says which */
  | 'zip_rejected'
  /** no data files for the requested split */
  | 'no_split'
  /** stopped through an AbortSignal */
  | 'cancelled';

/** The safety rules an uploaded zip archive is checked against (see zip.ts). */
export type ZipRule =
  | 'path_traversal'
  | 'absolute_path'
  | 'bad_name'
  | 'symlink'
  | 'duplicate'
  | 'encrypted'
  | 'compression_method'
  | 'nested_archive'
  | 'too_many_entries'
  | 'too_large'
  | 'compression_ratio'
  | 'size_mismatch'
  | 'malformed';

/** Where in the input the problem is; every field is optional. */
export interface DatasetErrorDetails {
  /** the file (a display name, not necessarily a path on disk) */
  file?: string;
  /** 1-based line of a text file (JSON Lines, CSV, plain text) */
  line?: number;
  /** 0-based row of a parquet file */
  row?: number;
  /** name of the zip entry, as stored in the archive */
  entry?: string;
  /** the zip safety rule that refused the archive */
  rule?: ZipRule;
  cause?: unknown;
}

/** A dataset input that cannot be used; see {@link DatasetErrorCode}. */
export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly row?: number;
  readonly entry?: string;
  readonly rule?: ZipRule;

  constructor(code: DatasetErrorCode, message: string, details: DatasetErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DatasetError';
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.line !== undefined) this.line = details.line;
    if (details.row !== undefined) this.row = details.row;
    if (details.entry !== undefined) this.entry = details.entry;
    if (details.rule !== undefined) this.rule = details.rule;
  }
}

/** Throws `cancelled` when the signal has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'dataset import'): void {
  if (signal?.aborted) throw new DatasetError('cancelled', `${what} cancelled`);
}
