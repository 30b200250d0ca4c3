/**
 * Request and response schemas of the HTTP API, declared once: the server
 * validates with them and generates the OpenAPI document from them, and the
 * web app parses responses with them.
 */
import { z } from 'zod';
import { JOB_STATES } from './jobs.ts';
import { adapterSchema } from './device.ts';
import { ARTIFACT_STATUSES, modelProgressSchema } from './topics.ts';

/** The one error body of every 4xx/5xx response. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * `GET /api/health`. `status`: `ok`; `degraded` (the database answers, but the
 * job queue is not installed or no worker beats), answered with 200;
 * `unavailable` (the database cannot be reached: `database.error` says
 * `unreachable: <reason>`), answered with 503.
 */
export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded', 'unavailable']),
  version: z.string(),
  uptimeS: z.number(),
  database: z.object({ ok: z.boolean(), latencyMs: z.number().nullable(), error: z.string().optional() }),
  queue: z.object({ ok: z.boolean(), version: z.number().nullable(), error: z.string().optional() }),
  workers: z.object({
    /** workers whose heartbeat is younger than 30 s */
    active: z.number().int(),
    list: z.array(
      z.object({
        id: z.string(),
        host: z.string(),
        pid: z.number().int(),
        startedAt: z.number(),
        lastSeen: z.number(),
        concurrency: z.number().int(),
        /** its LOUPE_DEVICE (null: a worker that does not report it) */
        device: z.enum(['auto', 'cpu', 'webgpu']).nullable(),
        /** the WebGPU adapters it found at start; null until its probe answers */
        adapters: z.array(adapterSchema).nullable(),
        /** why it lists no adapter (LOUPE_DEVICE=cpu, no GPU device, the probe failed or timed out); null when it lists some */
        adaptersNote: z.string().nullable(),
      }),
    ),
  }),
  /** the distinct WebGPU adapters the live workers found (name, vendor, architecture, whether software) */
  adapters: z.array(adapterSchema),
});
export type Health = z.infer<typeof healthSchema>;

export const configSchema = z.object({
  version: z.string(),
  wsUrl: z.string(),
  /** host name of this server (the default host of the System page) */
  host: z.string(),
  /** true when the WebSocket needs `?token=` */
  authRequired: z.boolean(),
  systemSampleMs: z.number().int(),
});
export type PublicConfig = z.infer<typeof configSchema>;

export const SYSTEM_WINDOWS = ['15m', '1h', '6h', '24h'] as const;
export type SystemWindow = (typeof SYSTEM_WINDOWS)[number];
export const WINDOW_MS: Record<SystemWindow, number> = {
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '6h': 6 * 3600_000,
  '24h': 24 * 3600_000,
};

export const systemMetricsQuerySchema = z.object({
  window: z.enum(SYSTEM_WINDOWS).default('1h'),
  host: z.string().max(255).optional(),
  /** comma-separated metric names or prefixes ending in `*` (e.g. `cpu.*,mem.used`); all when omitted */
  metrics: z.string().max(2000).optional(),
  /** points per series; buckets are window / points wide */
  points: z.coerce.number().int().min(10).max(2000).default(300),
});
export type SystemMetricsQuery = z.infer<typeof systemMetricsQuerySchema>;

/** One downsampled series: per bucket the bucket start, min, max and last value. */
export const seriesSchema = z.object({
  /** bucket start, ms since epoch; the first and last raw points are kept as their own entries */
  t: z.array(z.number()),
  min: z.array(z.number()),
  max: z.array(z.number()),
  last: z.array(z.number()),
});
export type Series = z.infer<typeof seriesSchema>;

export const systemMetricsSchema = z.object({
  host: z.string().nullable(),
  hosts: z.array(z.string()),
  window: z.enum(SYSTEM_WINDOWS),
  from: z.number(),
  to: z.number(),
  /** width of one bucket, ms */
  bucketMs: z.number(),
  /** seconds between the stored points the buckets were built from */
  sourceResolutionS: z.number(),
  series: z.record(z.string(), seriesSchema),
  gpus: z.array(z.object({ index: z.number().int(), name: z.string() })),
});
export type SystemMetrics = z.infer<typeof systemMetricsSchema>;

// ---------------------------------------------------------------------------
// Jobs: every pg-boss job, whatever its kind.

/** `GET /api/jobs` query. */
export const jobListQuerySchema = z.object({
  /** queue name, e.g. `model.download` */
  kind: z.string().min(1).max(100).optional(),
  state: z.enum(JOB_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type JobListQuery = z.infer<typeof jobListQuerySchema>;

/** `{id}` of the job routes: pg-boss ids are UUIDs. */
export const jobIdParamSchema = z.object({ id: z.string().uuid() });

/** One job. Times in ms since epoch. */
export const jobSchema = z.object({
  id: z.string(),
  /** queue name */
  kind: z.string(),
  state: z.enum(JOB_STATES),
  data: z.unknown(),
  /** what the handler returned, or the error it failed with (`{name, message, stack}`) */
  output: z.unknown(),
  /** the last progress the handler reported, when it reports any */
  progress: z.unknown(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  completedAt: z.number().nullable(),
  /** attempts that failed and were retried so far */
  retryCount: z.number().int(),
  retryLimit: z.number().int(),
});
export type Job = z.infer<typeof jobSchema>;

export const jobListSchema = z.object({
  /** newest first */
  jobs: z.array(jobSchema),
  /** jobs matching the filters, over all pages */
  total: z.number().int(),
});
export type JobList = z.infer<typeof jobListSchema>;

// ---------------------------------------------------------------------------
// Models.

/** Load dtypes: full precision, half precision, 8-bit and 4-bit weights. */
export const MODEL_DTYPES = ['fp32', 'fp16', 'q8', 'q4'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

/** Where a model comes from: a hub repository at a revision, or a folder on the server's disk. */
export const modelSourceSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('hub'),
    /** `owner/name` */
    repo: z.string().min(1).max(200),
    /** branch, tag or commit */
    revision: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'expected a branch, tag or commit (letters, digits, . _ / -)')
      .refine((r) => !r.split('/').includes('..'), 'must not contain ".."')
      .default('main'),
  }).strict(),
  z.object({
    kind: z.literal('local'),
    /** absolute path of a folder with config.json and safetensors weights */
    path: z.string().min(1).max(4096),
  }).strict(),
]);
export type ModelSource = z.infer<typeof modelSourceSchema>;

/** `POST /api/models` body. */
export const createModelSchema = z.object({
  source: modelSourceSchema,
  /** display name; defaults to the repository or folder name */
  name: z.string().trim().min(1).max(200).optional(),
  /** the model's default load dtype */
  dtype: z.enum(MODEL_DTYPES).default('fp32'),
}).strict();
export type CreateModel = z.input<typeof createModelSchema>;

/** `{id}` of the model routes. */
export const modelIdParamSchema = z.object({ id: z.string().uuid() });

/** A model as the API shows it. Times in ms since epoch. */
export const modelSchema = z.object({
  id: z.string(),
  name: z.string(),
  source: modelSourceSchema,
  status: z.enum(ARTIFACT_STATUSES),
  /** config.json's `model_type`, once known */
  architecture: z.string().nullable(),
  dtype: z.enum(MODEL_DTYPES),
  /** bytes of the model's files, once known */
  sizeBytes: z.number().nullable(),
  /** download progress (the last `model/{id}` event), null before the download starts */
  progress: modelProgressSchema.nullable(),
  error: z.string().nullable(),
  /** shipped with Loupe; cannot be deleted */
  builtin: z.boolean(),
  /** the model pages and forms pick when none is chosen (the built-in demo model) */
  default: z.boolean(),
  /** the `model.download` job, when there was one */
  jobId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Model = z.infer<typeof modelSchema>;

/** `GET /api/models`: the default model first, then newest first. */
export const modelListSchema = z.object({ models: z.array(modelSchema) });

/** `GET /api/models/{id}/architecture` (models/inspect.ts). */
export const architectureSchema = z.object({
  modelType: z.string(),
  layers: z.number().int(),
  dModel: z.number().int(),
  nHeads: z.number().int(),
  nKvHeads: z.number().int(),
  dHead: z.number().int(),
  dMlp: z.number().int(),
  vocabSize: z.number().int(),
  contextLength: z.number().int(),
  norm: z.enum(['layer', 'rms']),
  activation: z.string(),
  positions: z.enum(['learned', 'rope']),
  parallelResidual: z.boolean(),
  /** per layer: null for full causal attention, else its sliding window */
  windows: z.array(z.number().int().nullable()),
  parameters: z.object({ total: z.number().int(), embedding: z.number().int(), perLayer: z.array(z.number().int()), other: z.number().int() }),
  /** bytes of the weights in memory at each load dtype */
  dtypeBytes: z.object({ fp32: z.number(), fp16: z.number(), q8: z.number(), q4: z.number() }),
  /** the dtype the model's safetensors files store its weights in (F32, F16, BF16): the one most parameters have */
  weightsDtype: z.string(),
  hookPoints: z.array(z.object({ name: z.string(), layer: z.number().int().nullable(), shape: z.array(z.union([z.number().int(), z.string()])) })),
});
export type Architecture = z.infer<typeof architectureSchema>;

/** `POST /api/models` answer: the new row and the job that fills it. */
export const createdModelSchema = z.object({ model: modelSchema, job: z.object({ id: z.string(), kind: z.string() }) });
