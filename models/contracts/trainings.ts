/**
 * SAE trainings and SAEs: the hyperparameters of a run, the API's requests
 * and answers, the `training/{id}` topic's events, training templates, and
 * the `sae.train` job's data. Declared once; the server validates with them
 * and builds the OpenAPI document from them, the job and the CLI read the
 * same config, and the web app parses with them.
 *
 * (No import of topics.ts, nor of extractions.ts which imports it: topics.ts
 * imports the event schema from here, and a cycle would read its values
 * before they exist.)
 */
import { z } from 'zod';
import { jobDeviceSchema } from './device.ts';

/** Lifecycle of a training (the `status` column; the same values as ARTIFACT_STATUSES in topics.ts). */
export const TRAINING_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type TrainingStatus = (typeof TRAINING_STATUSES)[number];

/** SAE architectures (models/sae/graph.ts SAE_ARCHITECTURES). */
export const SAE_ARCHITECTURE_NAMES = ['relu', 'topk', 'batchtopk', 'jumprelu'] as const;
export const B_DEC_INITS = ['mean', 'geometric_median', 'zeros'] as const;

/** Limits of the hyperparameters, and defaults that are not the trainer's own ({@link TRAIN_DEFAULTS}). */
export const TRAINING_LIMITS = {
  MAX_D_SAE: 1 << 20,
  MAX_EXPANSION: 256,
  MAX_K: 4096,
  MAX_BATCH: 1 << 16,
  /** 10^12 tokens, exact in a double */
  MAX_TOKENS: 1e12,
  MAX_STEPS: 1e9,
  MAX_MIXING_SHARDS: 64,
  MAX_EVAL_WINDOWS: 64,
  /** windows of the extraction's dataset CE-loss recovered is measured on */
  DEFAULT_EVAL_WINDOWS: 4,
  MAX_TEMPLATES: 200,
  /** metric points a page of `GET /api/trainings/{id}/metrics` */
  MAX_METRICS_PAGE: 10_000,
  DEFAULT_METRICS_PAGE: 2000,
} as const;

/**
 * The trainer's defaults: what a config leaves out gets these (models/sae/train.ts
 * trains with them, models/sae/config.ts resolves the API's config with them, and
 * the web form shows them). totalTokens has none (one pass over the stored rows),
 * nor has the size when dSae is given.
 */
export const TRAIN_DEFAULTS = {
  architecture: 'topk',
  expansionFactor: 8,
  k: 32,
  initThreshold: 0.001,
  bandwidth: 0.001,
  l1Coefficient: 5,
  l1WarmupSteps: 0,
  lr: 4e-4,
  lrWarmupSteps: 0,
  lrDecayFraction: 0.2,
  beta1: 0.9,
  beta2: 0.999,
  batchSize: 1024,
  normalizeInputs: true,
  bDecInit: 'mean',
  normalizeDecoder: false,
  deadFeatureWindow: 1_000_000,
  denseThreshold: 0.1,
  seed: 42,
  metricsEvery: 10,
  checkpointEvery: 500,
  evalEvery: 500,
  mixingShards: 4,
} as const;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** What a training's SAEs are for, unless it says: with the model and hook point, the family they join. */
export const DEFAULT_PURPOSE = 'default';
export const purposeSchema = z.string().trim().min(1).max(100);


/** Hook points of a run: at least one, no repeats (as extractions.ts's). */
export const trainingHookPointsSchema = z
  .array(
    z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9_.]+$/, 'expected a hook point name such as blocks.3.hook_resid_post'),
  )
  .min(1, 'pick at least one hook point')
  .max(64)
  .refine((a) => new Set(a).size === a.length, 'a hook point is listed twice');
const steps = (min = 1) => int(min, TRAINING_LIMITS.MAX_STEPS);

/**
 * The hyperparameters of a training, resolved (every default applied), as the
 * `trainings.config` column keeps them. Exactly one of dSae and
 * expansionFactor is set (d_sae = round(d_in · expansionFactor) per hook).
 */
export const trainConfigSchema = z.object({
  architecture: z.enum(SAE_ARCHITECTURE_NAMES),
  /** features of every SAE; null: expansionFactor × d_in */
  dSae: int(1, TRAINING_LIMITS.MAX_D_SAE).nullable(),
  expansionFactor: z.number().positive().max(TRAINING_LIMITS.MAX_EXPANSION).nullable(),
  /** TopK: active features a token; BatchTopK: on average */
  k: int(1, TRAINING_LIMITS.MAX_K),
  /** ReLU: the L1 coefficient (decoder-norm weighted); JumpReLU: the L0 coefficient */
  l1Coefficient: z.number().min(0).max(1e6),
  /** steps over which the L1 coefficient rises linearly from 0 */
  l1WarmupSteps: steps(0),
  /** JumpReLU: initial threshold, and the width of its pseudo-derivative's kernel */
  initThreshold: z.number().positive().max(1e3),
  bandwidth: z.number().positive().max(1e3),
  lr: z.number().positive().max(1),
  /** steps over which lr rises linearly from 0 */
  lrWarmupSteps: steps(0),
  /** fraction of the steps at the end over which lr decays linearly to 0 */
  lrDecayFraction: z.number().min(0).max(1),
  /** Adam betas */
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  /** activations (tokens) a step */
  batchSize: int(1, TRAINING_LIMITS.MAX_BATCH),
  /** tokens to train on (whole batches); the data repeats in a new order once the store is used up */
  totalTokens: int(1, TRAINING_LIMITS.MAX_TOKENS),
  /** scale inputs to a mean norm of sqrt(d_in) (folded back into the saved weights) */
  normalizeInputs: z.boolean(),
  bDecInit: z.enum(B_DEC_INITS),
  /** rescale decoder rows to unit norm after every step */
  normalizeDecoder: z.boolean(),
  /** tokens without firing after which a feature counts as dead */
  deadFeatureWindow: int(1, TRAINING_LIMITS.MAX_TOKENS),
  /** fraction of a batch's tokens above which a feature counts as dense */
  denseThreshold: z.number().gt(0).max(1),
  seed: int(0, 2 ** 31 - 1),
  /** steps between metric points */
  metricsEvery: steps(),
  /** steps between checkpoints */
  checkpointEvery: steps(),
  /** steps between evaluations (density histogram, CE-loss recovered); 0: at the end only */
  evalEvery: steps(0),
  /** windows of the dataset CE-loss recovered is measured on; 0: no CE-loss evaluation */
  evalWindows: int(0, TRAINING_LIMITS.MAX_EVAL_WINDOWS),
  /** shards shuffled together (this many shards per hook in memory) */
  mixingShards: int(1, TRAINING_LIMITS.MAX_MIXING_SHARDS),
});
export type TrainConfigResolved = z.infer<typeof trainConfigSchema>;

/** Config a request or a template may give; whatever is left out gets its default. */
export const trainConfigInputSchema = trainConfigSchema
  .partial()
  .strict()
  .superRefine((c, ctx) => {
    if (c.dSae != null && c.expansionFactor != null) ctx.addIssue({ code: 'custom', path: ['dSae'], message: 'give dSae or expansionFactor, not both' });
  });
export type TrainConfigInput = z.infer<typeof trainConfigInputSchema>;

/** `POST /api/trainings` body. */
export const createTrainingSchema = z
  .object({
    extractionId: z.string().uuid(),
    /** one SAE per hook point; default: the template's, else every hook of the extraction */
    hookPoints: trainingHookPointsSchema.optional(),
    config: trainConfigInputSchema.optional(),
    name: z.string().trim().min(1).max(200).optional(),
    /** what its SAEs are for: with the model and hook point, the family each joins (default `default`) */
    purpose: purposeSchema.optional(),
    /** a template whose config (and hook points) fill what the body leaves out */
    templateId: z.string().uuid().optional(),
  })
  .strict();
export type CreateTraining = z.input<typeof createTrainingSchema>;

/** Stages of a training attempt. */
export const TRAINING_PHASES = ['queued', 'loading', 'training', 'saving', 'done'] as const;

/** The last checkpoint of one hook's SAE. */
export const checkpointInfoSchema = z.object({
  hook: z.string(),
  step: z.number().int(),
  /** ms since epoch */
  at: z.number(),
});

/**
 * Progress of a training, on topic `training/{id}` (as `{type: 'progress', …}`,
 * a few per second while it runs and on every status change) and kept in
 * the row for pages opened late.
 */
export const trainingProgressSchema = z.object({
  /** training id */
  id: z.string(),
  status: z.enum(TRAINING_STATUSES),
  phase: z.enum(TRAINING_PHASES),
  /** steps done / to do (every hook's SAE takes the same steps) */
  step: z.number().int(),
  totalSteps: z.number().int(),
  tokens: z.number(),
  totalTokens: z.number(),
  /** this attempt's rate, tokens/s (per hook: every hook sees these tokens) */
  tokensPerSecond: z.number(),
  /** seconds left at that rate; null when unknown */
  etaSeconds: z.number().nullable(),
  /** the step this attempt resumed from (0: from the start) */
  resumedAt: z.number().int(),
  /** the last checkpoint of each hook's SAE */
  checkpoints: z.array(checkpointInfoSchema),
  /** ended by a stop: the SAEs are the weights at `step` */
  stopped: z.boolean(),
  /** where this attempt runs: {sae} once the steppers are made, {model} once the CE-loss evaluator loads */
  device: jobDeviceSchema.optional(),
  /** why it failed, or a note while a retry is pending */
  error: z.string().nullable(),
  /** ms since epoch */
  ts: z.number(),
});
export type TrainingProgress = z.infer<typeof trainingProgressSchema>;

/** Training metrics of one hook's SAE at one step, averaged over the steps since the previous point. */
export const trainMetricValuesSchema = z.object({
  loss: z.number(),
  mse: z.number(),
  l1: z.number(),
  /** mean active features a token */
  l0: z.number(),
  explainedVariance: z.number(),
  /** features that have not fired within deadFeatureWindow tokens */
  deadFraction: z.number(),
  /** features firing on more than denseThreshold of the last batch */
  denseFraction: z.number(),
  lr: z.number(),
  l1Coefficient: z.number(),
  tokensPerSecond: z.number(),
});
export type TrainMetricValues = z.infer<typeof trainMetricValuesSchema>;

/** Feature density over an evaluation window: histogram of log10 frequency on fixed edges. */
export const densityHistogramSchema = z.object({
  /** counts.length + 1 ascending edges, log10 frequency */
  edges: z.array(z.number()),
  counts: z.array(z.number().int()),
  /** features that did not fire in the window */
  dead: z.number().int(),
  /** tokens of the window */
  tokens: z.number(),
});

/** An evaluation of one hook's SAE at one step. */
export const evalValuesSchema = z.object({
  density: densityHistogramSchema,
  /** mean next-token loss of the model, with the SAE spliced in, and with the hook zero-ablated; null without CE evaluation */
  ceLossClean: z.number().nullable(),
  ceLossSpliced: z.number().nullable(),
  ceLossZero: z.number().nullable(),
  /** (zero - spliced) / (zero - clean) */
  ceLossRecovered: z.number().nullable(),
});
export type EvalValues = z.infer<typeof evalValuesSchema>;

/** One point of the metric history: a hook at a step, with its training metrics and/or its evaluation. */
export const metricPointSchema = z.object({
  hook: z.string(),
  step: z.number().int(),
  tokens: z.number(),
  /** ms since epoch, when it was recorded */
  ts: z.number(),
  train: trainMetricValuesSchema.nullable(),
  eval: evalValuesSchema.nullable(),
});
export type MetricPoint = z.infer<typeof metricPointSchema>;

/**
 * Payloads of topic `training/{id}`: progress, and batches of metric points
 * (published at most a few times a second; the same points are stored, so a
 * page opened late draws the whole curve from `GET /api/trainings/{id}/metrics`).
 */
export const trainingEventSchema = z.discriminatedUnion('type', [
  trainingProgressSchema.extend({ type: z.literal('progress') }),
  z.object({ type: z.literal('metrics'), id: z.string(), points: z.array(metricPointSchema) }),
]);
export type TrainingEvent = z.infer<typeof trainingEventSchema>;

/** The state of one hook's SAE in a training's detail. */
export const trainingHookSchema = z.object({
  hook: z.string(),
  /** from the activation store; null when it is gone */
  dIn: z.number().int().nullable(),
  dSae: z.number().int().nullable(),
  checkpoint: checkpointInfoSchema.nullable(),
  /** the latest metric point with training metrics, and the latest evaluation */
  latest: metricPointSchema.nullable(),
  latestEval: metricPointSchema.nullable(),
  /** the SAE it produced, once completed */
  saeId: z.string().nullable(),
});

/** A training as the API shows it. Times in ms since epoch. */
export const trainingSchema = z.object({
  id: z.string(),
  name: z.string(),
  extractionId: z.string(),
  /** the extraction's model and dataset (null when gone) */
  modelId: z.string().nullable(),
  modelName: z.string().nullable(),
  datasetName: z.string().nullable(),
  hookPoints: z.array(z.string()),
  config: trainConfigSchema,
  /** what its SAEs are for (their family's purpose) */
  purpose: z.string(),
  status: z.enum(TRAINING_STATUSES),
  /** a pause or stop asked for and not yet carried out */
  control: z.enum(['pause', 'stop']).nullable(),
  progress: trainingProgressSchema.nullable(),
  /** where it ran ({sae}, and {model} of the CE-loss evaluation); null until its job knows */
  device: jobDeviceSchema.nullable(),
  /** while queued: 1 for the next training a worker takes, 2 after it, …; null otherwise */
  queuePosition: z.number().int().nullable(),
  /** completed by a stop (the SAEs are the weights at the step it stopped at) */
  stopped: z.boolean(),
  jobId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});
export type Training = z.infer<typeof trainingSchema>;

/** `GET /api/trainings/{id}`: the training and each hook's SAE. */
export const trainingDetailSchema = trainingSchema.extend({
  totalSteps: z.number().int(),
  hooks: z.array(trainingHookSchema),
});
export type TrainingDetail = z.infer<typeof trainingDetailSchema>;

/** `GET /api/trainings` query. */
export const trainingListQuerySchema = z.object({
  extractionId: z.string().uuid().optional(),
  status: z.enum(TRAINING_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `GET /api/trainings`: newest first. */
export const trainingListSchema = z.object({ trainings: z.array(trainingSchema) });

/** `{id}` of the training routes. */
export const trainingIdParamSchema = z.object({ id: z.string().uuid() });

/** `POST /api/trainings` answer. */
export const createdTrainingSchema = z.object({ training: trainingSchema, job: z.object({ id: z.string(), kind: z.string() }) });

/** `POST /api/trainings/{id}/pause|resume|stop|retry` answer: the training, and the job sent for it when one was. */
export const trainingControlResultSchema = z.object({ training: trainingSchema, job: z.object({ id: z.string(), kind: z.string() }).nullable() });

/** `GET /api/trainings/{id}/metrics` query: points after step `after`, of one hook or all, by step. */
export const metricsQuerySchema = z.object({
  hook: z.string().min(1).max(200).optional(),
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(TRAINING_LIMITS.MAX_METRICS_PAGE).default(TRAINING_LIMITS.DEFAULT_METRICS_PAGE),
});

/** `GET /api/trainings/{id}/metrics` answer: by step, then hook; `next` is the `after` of the next page (null at the end). */
export const metricsPageSchema = z.object({ points: z.array(metricPointSchema), next: z.number().int().nullable() });

// ---------------------------------------------------------------------------
// Templates: named presets of config (and hook points), kept in the `settings` table.

/** What a training template holds. */
export const trainingTemplateSettingsSchema = z.object({ hookPoints: trainingHookPointsSchema.optional(), config: trainConfigInputSchema.optional() }).strict();
export type TrainingTemplateSettings = z.infer<typeof trainingTemplateSettingsSchema>;

/** `POST /api/training-templates` body. */
export const createTrainingTemplateSchema = z.object({ name: z.string().trim().min(1).max(100), settings: trainingTemplateSettingsSchema }).strict();

export const trainingTemplateSchema = z.object({ id: z.string(), name: z.string(), settings: trainingTemplateSettingsSchema, createdAt: z.number() });
export type TrainingTemplate = z.infer<typeof trainingTemplateSchema>;

/** `GET /api/training-templates`: by name. */
export const trainingTemplateListSchema = z.object({ templates: z.array(trainingTemplateSchema) });

// ---------------------------------------------------------------------------
// SAEs

/** An SAE's place in its family; null for an SAE recorded before families existed and not migrated (never, after migration 0007). */
export const saeFamilyRefSchema = z
  .object({
    id: z.string(),
    purpose: z.string(),
    /** 1, 2, … in creation order within the family */
    version: z.number().int(),
    /** the family's active SAE: what the Features page, the inspector and `sae=<family id>` use by default */
    active: z.boolean(),
  })
  .nullable();

/** A family of SAEs: one model, hook point and purpose; its versions oldest first. */
export const saeFamilySchema = z.object({
  id: z.string(),
  modelId: z.string().nullable(),
  modelName: z.string().nullable(),
  hookPoint: z.string(),
  purpose: z.string(),
  activeSaeId: z.string().nullable(),
  versions: z.array(z.object({ saeId: z.string(), version: z.number().int(), name: z.string(), createdAt: z.number() })),
  createdAt: z.number(),
});
export type SaeFamily = z.infer<typeof saeFamilySchema>;
export const saeFamilyListSchema = z.object({ families: z.array(saeFamilySchema) });
export const saeFamilyListQuerySchema = z.object({ modelId: z.string().uuid().optional(), hookPoint: z.string().min(1).max(200).optional() });

/** `PATCH /api/saes/{id}` body: a new name, and/or making it its family's active SAE (only `true`: another version is made active instead). */
export const saePatchSchema = z
  .object({ name: z.string().trim().min(1).max(200).optional(), active: z.literal(true).optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.active !== undefined, 'give name or active');

/** An SAE as the API shows it (trained here, or imported from a SAELens folder). */
export const saeSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** the training that made it (null when imported, or its training was deleted) */
  trainingId: z.string().nullable(),
  modelId: z.string().nullable(),
  modelName: z.string().nullable(),
  hookPoint: z.string(),
  architecture: z.enum(SAE_ARCHITECTURE_NAMES),
  dIn: z.number().int(),
  dSae: z.number().int(),
  /** TopK k from cfg.json (null otherwise; a BatchTopK SAE is saved as JumpReLU with one threshold, its k is in its training's config) */
  k: z.number().int().nullable(),
  /** its SAELens cfg.json */
  cfg: z.record(z.string(), z.unknown()),
  /** for a trained SAE: its last training metrics and evaluation, and whether its training was stopped early */
  metrics: z.object({ train: trainMetricValuesSchema.nullable(), eval: evalValuesSchema.nullable(), step: z.number().int(), stopped: z.boolean() }).nullable(),
  /** folder of cfg.json and sae_weights.safetensors */
  path: z.string(),
  /** its family (same model, hook point and purpose), its version there, and whether it is the family's active SAE */
  family: saeFamilyRefSchema,
  createdAt: z.number(),
});
export type Sae = z.infer<typeof saeSchema>;

export const saeListQuerySchema = z.object({
  trainingId: z.string().uuid().optional(),
  modelId: z.string().uuid().optional(),
  hookPoint: z.string().min(1).max(200).optional(),
  familyId: z.string().uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const saeListSchema = z.object({ saes: z.array(saeSchema) });
export const saeIdParamSchema = z.object({ id: z.string().uuid() });

/** The files of an SAE folder in SAELens layout (`GET /api/saes/{id}/files/{name}`). */
export const SAE_FILES = ['cfg.json', 'sae_weights.safetensors'] as const;
export const saeFileParamSchema = z.object({ id: z.string().uuid(), name: z.enum(SAE_FILES) });

/** `POST /api/saes/import` body: a SAELens folder the server can read, copied into DATA_DIR/saes. */
export const importSaeSchema = z
  .object({
    /** absolute path of a folder with cfg.json and sae_weights.safetensors (SAELens 5 or 6) */
    path: z.string().min(1).max(4096),
    name: z.string().trim().min(1).max(200).optional(),
    /** the model it belongs to, when known */
    modelId: z.string().uuid().optional(),
    /** the family it joins with its model and hook point (default `default`) */
    purpose: purposeSchema.optional(),
  })
  .strict();

/** Data of a `sae.train` job: the `trainings` row it runs. */
export const trainingJobDataSchema = z.object({ trainingId: z.string().uuid() });
export type TrainingJobData = z.infer<typeof trainingJobDataSchema>;
