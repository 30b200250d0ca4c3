/**
 * Request and response schemas of the datasets API (`/api/datasets…`),
 * declared once: the server validates with them and documents them in the
 * OpenAPI document, the web app parses responses with them, and the
 * `dataset.import` job reads the source and settings they describe.
 */
import { z } from 'zod';
import { ARTIFACT_STATUSES, datasetProgressSchema } from './topics.ts';

/** How plain-text files are cut into documents (models/datasets/sources.ts). */
export const TEXT_SPLITS = ['paragraph', 'line', 'document'] as const;
/** What a row that cannot be used does: fail the import (naming the file and line), or be skipped and counted. */
export const BAD_ROW_POLICIES = ['error', 'skip'] as const;

/** A branch, tag or commit of a hub repository. */
const revisionSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'expected a branch, tag or commit (letters, digits, . _ / -)')
  .refine((r) => !r.split('/').includes('..'), 'must not contain ".."');

/** A split or config name: one path segment of letters, digits, `.`, `_` and `-`. */
const segmentSchema = (what: string) =>
  z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, `expected a ${what} name (letters, digits, . _ -)`);

/** A file path inside a repository: `/`-separated, no `..`, `.` or empty segments. */
const repoPathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..') && !p.includes('\\'), 'expected a relative path inside the repository (no "..", "." or empty segments)');

/** The field (JSON Lines), header (CSV) or column (parquet) that holds the text. */
const textColumnSchema = z.string().min(1).max(200);

/** A dataset repository on the Hugging Face hub (or the mirror in HF_ENDPOINT). */
export const hubDatasetSourceSchema = z.object({
  kind: z.literal('hub'),
  /** `owner/name` */
  repo: z.string().min(1).max(200),
  revision: revisionSchema.default('main'),
  /** split whose files are imported, found by the `datasets` library's file-name conventions */
  split: segmentSchema('split').default('train'),
  /** only files under this top folder (a config of the `refs/convert/parquet` layout, or a language folder) */
  config: segmentSchema('config').optional(),
  textColumn: textColumnSchema.default('text'),
  /** exactly these repository files instead of the split's (each must be a format Loupe reads) */
  files: z.array(repoPathSchema).min(1).max(1000).optional(),
}).strict();
export type HubDatasetSource = z.infer<typeof hubDatasetSourceSchema>;

/** Where a dataset came from: the hub, a file uploaded through the API, or the demo dataset shipped with Loupe. */
export const datasetSourceSchema = z.discriminatedUnion('kind', [
  hubDatasetSourceSchema,
  z.object({
    kind: z.literal('upload'),
    /** the safe name the file was stored under (`.zip` archives are extracted by the import) */
    fileName: z.string(),
    /** bytes uploaded */
    bytes: z.number().int(),
  }),
  z.object({
    kind: z.literal('builtin'),
    /** absolute path of the file, read in place */
    path: z.string(),
  }),
]);
export type DatasetSource = z.infer<typeof datasetSourceSchema>;

/**
 * How a dataset is read and tokenized, as stored with it. `addBos`/`addEos`
 * null mean "the tokenizer's rule" until the import records the values it used.
 */
export const datasetSettingsSchema = z.object({
  textColumn: z.string(),
  textSplit: z.enum(TEXT_SPLITS),
  onBadRow: z.enum(BAD_ROW_POLICIES),
  addBos: z.boolean().nullable(),
  addEos: z.boolean().nullable(),
  maxDocuments: z.number().int().nullable(),
  maxTokens: z.number().int().nullable(),
});
export type DatasetSettings = z.infer<typeof datasetSettingsSchema>;

/** Import options shared by the hub body and the upload query (whose numbers arrive as strings). */
const importOptions = (num: () => z.ZodNumber | z.ZodCoercedNumber) => ({
  /** display name; defaults to the repository or file name */
  name: z.string().trim().min(1).max(200).optional(),
  /** the model whose tokenizer is used; default the default (built-in demo) model */
  tokenizerModelId: z.string().uuid().optional(),
  /** how plain-text files are cut into documents */
  textSplit: z.enum(TEXT_SPLITS).default('paragraph'),
  onBadRow: z.enum(BAD_ROW_POLICIES).default('error'),
  /** stop after this many documents */
  maxDocuments: num().int().min(1).max(1e9).optional(),
  /** stop at this many tokens (the last document is cut) */
  maxTokens: num().int().min(1).max(1e12).optional(),
});

/** `POST /api/datasets` body: import a dataset repository from the hub. */
export const createDatasetSchema = z.object({
  source: hubDatasetSourceSchema,
  ...importOptions(() => z.number()),
  /** prepend BOS to every document; default the tokenizer's own rule */
  addBos: z.boolean().optional(),
  /** append EOS to every document; default: when no BOS is added and the tokenizer has an EOS */
  addEos: z.boolean().optional(),
}).strict();
export type CreateDataset = z.input<typeof createDatasetSchema>;

/** A boolean in a query string. */
const queryBoolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** `POST /api/datasets/upload` query; the request body is the file itself. */
export const uploadDatasetQuerySchema = z.object({
  /** the file's name (its extension says its format); or `Content-Disposition: attachment; filename="…"` */
  filename: z.string().min(1).max(1024).optional(),
  textColumn: textColumnSchema.default('text'),
  ...importOptions(() => z.coerce.number()),
  addBos: queryBoolean.optional(),
  addEos: queryBoolean.optional(),
});
export type UploadDatasetQuery = z.input<typeof uploadDatasetQuerySchema>;

/** `{id}` of the dataset routes. */
export const datasetIdParamSchema = z.object({ id: z.string().uuid() });

/** `GET /api/datasets/{id}/stats`: stats.json of the tokenized dataset with the import's counts. Lengths in tokens. */
export const datasetStatsSchema = z.object({
  documents: z.number().int(),
  tokens: z.number().int(),
  /** distinct token ids that occur */
  uniqueTokens: z.number().int(),
  vocabSize: z.number().int(),
  length: z.object({ min: z.number(), max: z.number(), mean: z.number(), median: z.number(), p10: z.number(), p90: z.number(), p99: z.number() }),
  /** document lengths in log-spaced bins: `counts[i]` documents have a length in `[edges[i], edges[i + 1])` */
  histogram: z.object({ edges: z.array(z.number()), counts: z.array(z.number()) }),
  /** most frequent tokens, most frequent first */
  topTokens: z.array(z.object({ id: z.number().int(), count: z.number(), fraction: z.number(), text: z.string(), special: z.boolean() })),
  /** documents with empty text, not written */
  emptyDocuments: z.number().int(),
  /** bad rows skipped (onBadRow: skip) */
  skippedRows: z.number().int(),
  /** bytes of the source files read */
  bytesRead: z.number(),
  /** stopped at maxDocuments or maxTokens with input left */
  truncated: z.boolean(),
});
export type DatasetStatsBody = z.infer<typeof datasetStatsSchema>;

/** A dataset as the API shows it. Times in ms since epoch. */
export const datasetSchema = z.object({
  id: z.string(),
  name: z.string(),
  source: datasetSourceSchema,
  status: z.enum(ARTIFACT_STATUSES),
  /** shipped with Loupe (the demo dataset); cannot be deleted */
  builtin: z.boolean(),
  /** the model whose tokenizer made the tokens (null when that model was deleted) */
  tokenizerModelId: z.string().nullable(),
  settings: datasetSettingsSchema,
  /** counts once imported (the full statistics are at `/stats`) */
  stats: z
    .object({
      documents: z.number().int(),
      tokens: z.number().int(),
      uniqueTokens: z.number().int(),
      vocabSize: z.number().int(),
      meanLength: z.number(),
      truncated: z.boolean(),
      skippedRows: z.number().int(),
    })
    .nullable(),
  /** bytes of the dataset's files on disk, once imported */
  sizeBytes: z.number().nullable(),
  /** import progress (the last `dataset/{id}` event), null before the import starts */
  progress: datasetProgressSchema.nullable(),
  error: z.string().nullable(),
  /** the `dataset.import` job, when there was one */
  jobId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Dataset = z.infer<typeof datasetSchema>;

/** `GET /api/datasets`: built-in datasets first, then newest first, and the upload limit (for a check before sending). */
export const datasetListSchema = z.object({
  datasets: z.array(datasetSchema),
  /** largest file `POST /api/datasets/upload` accepts, bytes (UPLOAD_MAX_BYTES) */
  uploadMaxBytes: z.number().int(),
});

/** `POST /api/datasets` and `POST /api/datasets/upload` answer: the new row and the job that fills it. */
export const createdDatasetSchema = z.object({ dataset: datasetSchema, job: z.object({ id: z.string(), kind: z.string() }) });

/** `GET /api/datasets/{id}/samples` query. */
export const datasetSampleQuerySchema = z.object({
  /** first document, 0-based */
  offset: z.coerce.number().int().min(0).max(1e12).default(0),
  /** documents per page */
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** `GET /api/datasets/{id}/samples`: a page of documents with their tokens. */
export const datasetSampleSchema = z.object({
  offset: z.number().int(),
  limit: z.number().int(),
  /** documents in the dataset */
  total: z.number().int(),
  documents: z.array(
    z.object({
      /** 0-based document index */
      index: z.number().int(),
      /** position of its first token in tokens.bin */
      start: z.number().int(),
      /** its length, tokens */
      length: z.number().int(),
      /** the token ids shown (the first 4096 of a longer document) */
      ids: z.array(z.number().int()),
      /** one display string per id (byte-level and SentencePiece markers undone) */
      strings: z.array(z.string()),
      /** the decoded text of the ids shown */
      text: z.string(),
      /** the document is longer than what is shown */
      truncated: z.boolean(),
    }),
  ),
});
export type DatasetSample = z.infer<typeof datasetSampleSchema>;
