/**
 * Defaults and limits of dataset import, in one place. Every function that
 * uses one takes an option that overrides it, so the caller (a job reading the
 * environment once, a test) decides; these are the values used otherwise.
 */
export const DATASET_LIMITS = {
  /** Largest uploaded file accepted, bytes (2 GiB). */
  MAX_UPLOAD_BYTES: 2 * 1024 ** 3,
  /** Longest line of JSON Lines or plain text, and longest CSV record, bytes (64 MiB): one row never takes more memory than this. */
  MAX_LINE_BYTES: 64 * 1024 ** 2,
  /** A plain-text document (paragraph or whole file) longer than this is cut into pieces at line breaks, characters. */
  MAX_TEXT_DOCUMENT_CHARS: 4 * 1024 ** 2,
  /** Largest parquet footer (file metadata) read, bytes. */
  MAX_PARQUET_FOOTER_BYTES: 64 * 1024 ** 2,
  /** Largest text column chunk of one parquet row group, uncompressed bytes: a row group is the unit read into memory. */
  MAX_PARQUET_CHUNK_BYTES: 1024 ** 3,

  /** Most entries (files and folders) in an uploaded zip. */
  ZIP_MAX_ENTRIES: 10_000,
  /** Most bytes all entries of a zip may inflate to, counted while inflating (16 GiB). */
  ZIP_MAX_TOTAL_BYTES: 16 * 1024 ** 3,
  /**
   * Highest inflated / compressed ratio of one entry. Text deflates 3–10×;
   * repetitive logs reach ~50×; a bomb reaches 1000× and more.
   */
  ZIP_MAX_RATIO: 200,
  /** The ratio rule applies once an entry has inflated to this many bytes (small files may compress very well), bytes. */
  ZIP_RATIO_GRACE_BYTES: 1024 ** 2,

  /** Documents tokenized per encodeBatch call. */
  TOKENIZE_BATCH_DOCUMENTS: 256,
  /** Characters tokenized per encodeBatch call (about 0.1-0.5 s of work, so cancel and progress stay responsive). */
  TOKENIZE_BATCH_CHARS: 256 * 1024,
  /** Tokens buffered before a write to tokens.bin (4 MiB of uint32). */
  TOKEN_CHUNK_TOKENS: 1024 * 1024,
  /** Document offsets buffered before a write to docs.bin (512 KiB of uint64). */
  DOC_CHUNK_OFFSETS: 64 * 1024,
  /** Progress callbacks at most this often, ms (plus one at the end). */
  PROGRESS_INTERVAL_MS: 250,

  /** Most frequent tokens kept in the statistics. */
  STATS_TOP_K: 50,
  /** Largest page of the sample browser, documents. */
  SAMPLE_MAX_DOCUMENTS: 100,
  /** Tokens shown per document in the sample browser; longer documents are cut (and say so). */
  SAMPLE_MAX_TOKENS_PER_DOCUMENT: 4096,
} as const;
