/**
 * A streaming CSV parser (RFC 4180): fields separated by a delimiter (`,` by
 * default), records by CRLF or LF, fields in double quotes may hold the
 * delimiter, newlines and `""` for a quote. It takes text in chunks of any
 * size and yields one record at a time, so a file of any size takes the
 * memory of its longest record (bounded by `maxRecordChars`).
 *
 * Written here rather than taken from a package because it is ~100 lines, the
 * format is fixed, and streaming with a record-size bound and line numbers for
 * errors is exactly what is needed. Like Python's `csv` module, it is lenient
 * where the RFC is silent: a quote inside an unquoted field, or text after a
 * closing quote, is kept as it is. The only malformed input is a quoted field
 * still open at the end of the file.
 */
import { DatasetError } from './errors.ts';

/** One record: its fields and the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Options of {@link parseCsv}. */
export interface CsvOptions {
  /** one character; default `,` */
  delimiter?: string;
  /** longest record, characters; a longer one throws `too_large` */
  maxRecordChars?: number;
  /** file name for error messages */
  file?: string;
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Records of CSV text given in chunks.
 *
 * @throws DatasetError `bad_file` for a quoted field open at the end, `too_large` for a record over `maxRecordChars`
 * @example for await (const { fields, line } of parseCsv(textChunks)) console.log(line, fields)
 */
export async function* parseCsv(chunks: AsyncIterable<string>, opts: CsvOptions = {}): AsyncGenerator<CsvRecord> {
  const delimiter = opts.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new TypeError(`invalid CSV delimiter ${JSON.stringify(delimiter)}`);
  const delim = delimiter.charCodeAt(0);
  const maxChars = opts.maxRecordChars ?? Number.MAX_SAFE_INTEGER;
  const file = opts.file ?? 'CSV';

  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  /** the previous chunk ended on a quote inside a quoted field: a `""` escape or the closing quote, decided by the next char */
  let pendingQuote = false;
  /** the previous chunk ended on a CR outside quotes: the record ended there, skip an LF that follows */
  let skipLf = false;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 1;

  const endRecord = (): CsvRecord => {
    fields.push(field);
    const rec = { fields, line: recordLine };
    fields = [];
    field = '';
    return rec;
  };

  for await (const chunk of chunks) {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      if (skipLf) {
        skipLf = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (pendingQuote) {
        pendingQuote = false;
        if (c === QUOTE) {
          field += '"';
          i++;
          continue;
        }
        inQuotes = false;
      }
      if (inQuotes) {
        // Take everything up to the next quote in one slice.
        const q = chunk.indexOf('"', i);
        const end = q === -1 ? n : q;
        const piece = chunk.slice(i, end);
        for (let k = piece.indexOf('\n'); k !== -1; k = piece.indexOf('\n', k + 1)) line++;
        field += piece;
        if (field.length > maxChars) throw tooLarge(file, recordLine, maxChars);
        if (q === -1) break;
        i = q + 1;
        if (i < n) {
          if (chunk.charCodeAt(i) === QUOTE) {
            field += '"';
            i++;
          } else inQuotes = false;
        } else pendingQuote = true;
        continue;
      }
      if (c === QUOTE && field.length === 0) {
        inQuotes = true;
        quoteLine = line;
        i++;
        continue;
      }
      if (c === delim) {
        fields.push(field);
        field = '';
        i++;
        continue;
      }
      if (c === LF || c === CR) {
        const rec = endRecord();
        line++;
        recordLine = line;
        i++;
        if (c === CR) {
          if (i < n) {
            if (chunk.charCodeAt(i) === LF) i++;
          } else skipLf = true;
        }
        yield rec;
        continue;
      }
      // A run of ordinary characters in one slice.
      let j = i + 1;
      while (j < n) {
        const d = chunk.charCodeAt(j);
        if (d === delim || d === LF || d === CR) break;
        j++;
      }
      field += chunk.slice(i, j);
      if (field.length > maxChars) throw tooLarge(file, recordLine, maxChars);
      i = j;
    }
    let total = field.length;
    for (const f of fields) total += f.length;
    if (total > maxChars) throw tooLarge(file, recordLine, maxChars);
  }
  if (inQuotes && !pendingQuote) {
    throw new DatasetError('bad_file', `${file}: line ${quoteLine}: a quoted field is not closed before the end of the file`, { file, line: quoteLine });
  }
  if (fields.length > 0 || field.length > 0 || pendingQuote) yield endRecord();
}

function tooLarge(file: string, line: number, max: number): DatasetError {
  return new DatasetError('too_large', `${file}: line ${line}: a CSV record longer than ${max} characters (raise the line limit or fix the quoting)`, { file, line });
}
