/**
 * Activation extractions: the settings of a run, the API's requests and
 * answers, and extraction templates (saved presets). Declared once; the
 * server validates with them and builds the OpenAPI document from them, the
 * job and the CLI read the same settings, and the web app parses with them.
 */
import { z } from 'zod';
import { jobDeviceSchema } from './device.ts';
import { MODEL_DTYPES } from './api.ts';
import { ARTIFACT_STATUSES, extractionProgressSchema } from './topics.ts';

/** Storage dtypes of the activation shards. */
export const STORAGE_DTYPES = ['f32', 'f16'] as const;
export type StorageDtypeName = (typeof STORAGE_DTYPES)[number];

/** Limits and defaults of the settings (the form shows the same). */
export const EXTRACTION_LIMITS = {
  MAX_HOOKS: 64,
  MAX_CONTEXT: 1 << 17,
  MAX_BATCH: 4096,
  /** 10^12 tokens: far beyond any dataset, and exact in a double */
  MAX_TOKEN_BUDGET: 1e12,
  DEFAULT_CONTEXT: 128,
  DEFAULT_BATCH: 8,
  DEFAULT_TOKEN_BUDGET: 1_000_000,
  DEFAULT_STORAGE: 'f32' as StorageDtypeName,
  /**
   * A shard holds about this many bytes per hook (as float32, in memory while
   * it fills): the default of windowsPerShard. Memory while extracting is
   * bounded by one shard per hook plus two batches, whatever the budget.
   */
  SHARD_TARGET_BYTES: 64 * 1024 * 1024,
  MAX_TEMPLATES: 200,
} as const;

const hookName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.]+$/, 'expected a hook point name such as blocks.3.hook_resid_post');
const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** Hook points of a run: at least one, no repeats. */
export const hookPointsSchema = z
  .array(hookName)
  .min(1, 'pick at least one hook point')
  .max(EXTRACTION_LIMITS.MAX_HOOKS)
  .refine((a) => new Set(a).size === a.length, 'a hook point is listed twice');

/**
 * The settings of one extraction, resolved (every default applied), as the
 * `extractions.settings` column and the store's manifest keep them. Two runs
 * with the same settings over the same model and dataset write the same bytes.
 */
export const extractionSettingsSchema = z.object({
  /** dtype the model is loaded in */
  dtype: z.enum(MODEL_DTYPES),
  /** dtype of the stored activations */
  storage: z.enum(STORAGE_DTYPES),
  /** tokens a window (a row of a batch), BOS included when one is prepended */
  contextLength: int(1, EXTRACTION_LIMITS.MAX_CONTEXT),
  /** windows a forward pass */
  batchSize: int(1, EXTRACTION_LIMITS.MAX_BATCH),
  /** tokens to run through the model, at most (whole windows: floor(budget / contextLength) of them) */
  tokenBudget: int(1, EXTRACTION_LIMITS.MAX_TOKEN_BUDGET),
  /** dataset tokens between window starts; null: windows do not overlap */
  stride: int(1, EXTRACTION_LIMITS.MAX_CONTEXT).nullable(),
  /** store BOS positions too (prepended ones with position -1); false: they are excluded */
  keepBos: z.boolean(),
  /** prepend BOS to every window; null: when the dataset's tokenizer adds BOS to documents (Llama yes, GPT-2 no) */
  prependBos: z.boolean().nullable(),
  /** windows a shard; a multiple of batchSize, so that a resumed run writes the same bytes */
  windowsPerShard: int(1, 1 << 24),
});
export type ExtractionSettings = z.infer<typeof extractionSettingsSchema>;

/** Settings a request or a template may give; whatever is left out gets its default. */
export const extractionSettingsInputSchema = extractionSettingsSchema.partial();
export type ExtractionSettingsInput = z.infer<typeof extractionSettingsInputSchema>;

/** A windowsPerShard that is not a multiple of batchSize would make resumed runs differ. */
export function shardIssue(s: { batchSize?: number | undefined; windowsPerShard?: number | undefined }): string | undefined {
  if (s.batchSize === undefined || s.windowsPerShard === undefined) return undefined;
  return s.windowsPerShard % s.batchSize === 0 ? undefined : `must be a multiple of batchSize (${s.batchSize}), so that a resumed run writes the same bytes`;
}

/** `POST /api/extractions` body. */
export const createExtractionSchema = extractionSettingsInputSchema
  .extend({
    modelId: z.string().uuid(),
    datasetId: z.string().uuid(),
    /** required unless the template has them */
    hookPoints: hookPointsSchema.optional(),
    /** a template whose settings fill what the body leaves out */
    templateId: z.string().uuid().optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const issue = shardIssue(b);
    if (issue) ctx.addIssue({ code: 'custom', path: ['windowsPerShard'], message: issue });
  });
export type CreateExtraction = z.input<typeof createExtractionSchema>;

/** Per-hook statistics kept with a run (from the store's exact sums), for SAE input normalisation. */
export const hookStatsSummarySchema = z.object({
  /** rows the statistics cover */
  count: z.number(),
  /** mean L2 norm of a row */
  meanNorm: z.number(),
  /** mean over dimensions of the per-dimension mean */
  meanOfMeans: z.number(),
  /** mean over dimensions of the per-dimension variance */
  meanVariance: z.number(),
  maxVariance: z.number(),
});
export type HookStatsSummary = z.infer<typeof hookStatsSummarySchema>;

/** An extraction as the API shows it. Times in ms since epoch. */
export const extractionSchema = z.object({
  id: z.string(),
  modelId: z.string(),
  /** the model's display name (null when it is gone) */
  modelName: z.string().nullable(),
  datasetId: z.string(),
  datasetName: z.string().nullable(),
  hookPoints: z.array(z.string()),
  settings: extractionSettingsSchema,
  status: z.enum(ARTIFACT_STATUSES),
  /** the last `extraction/{id}` event */
  progress: extractionProgressSchema.nullable(),
  /** where it ran ({model}: the provider, adapter and any fallback's reason); null until its job knows */
  device: jobDeviceSchema.nullable(),
  /** per hook, once completed */
  stats: z.record(z.string(), hookStatsSummarySchema).nullable(),
  jobId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Extraction = z.infer<typeof extractionSchema>;

/** `GET /api/extractions` query. */
export const extractionListQuerySchema = z.object({
  modelId: z.string().uuid().optional(),
  datasetId: z.string().uuid().optional(),
  status: z.enum(ARTIFACT_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `GET /api/extractions`: newest first. */
export const extractionListSchema = z.object({ extractions: z.array(extractionSchema) });

/** `{id}` of the extraction routes. */
export const extractionIdParamSchema = z.object({ id: z.string().uuid() });

/** What the store on disk holds for one hook (`GET /api/extractions/{id}`). */
export const hookManifestSummarySchema = z.object({
  hook: z.string(),
  /** shape of one stored row; d is its product */
  rowShape: z.array(z.number().int()),
  d: z.number().int(),
  dtype: z.enum(STORAGE_DTYPES),
  rows: z.number().int(),
  shards: z.number().int(),
  /** bytes of the stored activations (and positions) */
  bytes: z.number(),
  stats: hookStatsSummarySchema,
  /**
   * Per-dimension variance, downsampled deterministically to at most
   * {@link VARIANCE_BUCKETS} buckets of `bucket` consecutive dimensions: the
   * mean and the max of each bucket.
   */
  variance: z.object({ bucket: z.number().int(), mean: z.array(z.number()), max: z.array(z.number()) }),
});

/** Buckets of the per-dimension variance profile in the detail view. */
export const VARIANCE_BUCKETS = 256;

/** `GET /api/extractions/{id}`: the run and what its store holds now (null before the job wrote anything). */
export const extractionDetailSchema = extractionSchema.extend({
  manifest: z
    .object({
      complete: z.boolean(),
      windowsDone: z.number().int(),
      windowsTotal: z.number().int(),
      windowsPerShard: z.number().int(),
      tokensDone: z.number(),
      hooks: z.array(hookManifestSummarySchema),
    })
    .nullable(),
});
export type ExtractionDetail = z.infer<typeof extractionDetailSchema>;

/** `POST /api/extractions` answer. */
export const createdExtractionSchema = z.object({ extraction: extractionSchema, job: z.object({ id: z.string(), kind: z.string() }) });

// ---------------------------------------------------------------------------
// Templates: named presets of settings (and hook points), kept in the `settings` table.

/** What a template holds: any of the settings, and hook points. */
export const templateSettingsSchema = extractionSettingsInputSchema
  .extend({ hookPoints: hookPointsSchema.optional() })
  .strict()
  .superRefine((s, ctx) => {
    const issue = shardIssue(s);
    if (issue) ctx.addIssue({ code: 'custom', path: ['windowsPerShard'], message: issue });
  });
export type TemplateSettings = z.infer<typeof templateSettingsSchema>;

/** `POST /api/extraction-templates` body. */
export const createTemplateSchema = z.object({ name: z.string().trim().min(1).max(100), settings: templateSettingsSchema }).strict();

export const extractionTemplateSchema = z.object({ id: z.string(), name: z.string(), settings: templateSettingsSchema, createdAt: z.number() });
export type ExtractionTemplate = z.infer<typeof extractionTemplateSchema>;

/** `GET /api/extraction-templates`: by name. */
export const templateListSchema = z.object({ templates: z.array(extractionTemplateSchema) });

/** Data of an `activations.extract` job: the `extractions` row it fills. */
export const extractionJobDataSchema = z.object({ extractionId: z.string().uuid() });
export type ExtractionJobData = z.infer<typeof extractionJobDataSchema>;
