/**
 * The PostgreSQL schema of Loupe (drizzle). Big numeric data lives in files
 * under DATA_DIR; these tables hold metadata, metrics and small results.
 *
 * After changing this file run `npm run db:generate` and commit the new
 * migration in `db/migrations/`.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
/** Lifecycle of anything a job produces. */
const status = () => text('status', { enum: ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] }).notNull().default('queued');

/** Language models, downloaded from a hub or imported from a folder. */
export const models = pgTable('models', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  /** {kind: 'hub', repo, revision} or {kind: 'local', path} */
  source: jsonb('source').notNull(),
  status: status(),
  /** config.json's model_type */
  architecture: text('architecture'),
  config: jsonb('config'),
  /** absolute folder of the model's files (under DATA_DIR/models, or the repository's demo/ for the built-in model) */
  path: text('path'),
  sizeBytes: bigint('size_bytes', { mode: 'number' }),
  /** default load dtype: fp32, fp16, q8 or q4 */
  dtype: text('dtype', { enum: ['fp32', 'fp16', 'q8', 'q4'] }).notNull().default('fp32'),
  /** last download progress (the payload of topic `model/{id}`), kept for pages opened late */
  progress: jsonb('progress'),
  /** shipped with Loupe (the demo model): cannot be deleted */
  builtin: boolean('builtin').notNull().default(false),
  jobId: text('job_id'),
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * The last progress a job reported (`JobContext.progress`), by pg-boss job id,
 * and the worker that runs its current attempt; pg-boss itself has neither.
 * Rows older than the job retention are pruned by `system.maintenance`.
 */
export const jobProgress = pgTable('job_progress', {
  jobId: uuid('job_id').primaryKey(),
  /** queue name */
  kind: text('kind').notNull(),
  /** null until the job reports */
  progress: jsonb('progress'),
  /** `workers.id` of the worker that started the current attempt (null for rows written before workers recorded it) */
  workerId: text('worker_id'),
  /** pg-boss's `retry_count` of that attempt: a claim left by an earlier attempt does not match the job's current one */
  attempt: integer('attempt'),
  updatedAt: updatedAt(),
});

/** Text datasets, imported and tokenized. */
export const datasets = pgTable('datasets', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  source: jsonb('source').notNull(),
  status: status(),
  /** model whose tokenizer produced tokens.bin */
  tokenizerModelId: uuid('tokenizer_model_id').references(() => models.id, { onDelete: 'set null' }),
  settings: jsonb('settings'),
  stats: jsonb('stats'),
  path: text('path'),
  sizeBytes: bigint('size_bytes', { mode: 'number' }),
  jobId: text('job_id'),
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Activation extraction runs. */
export const extractions = pgTable(
  'extractions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    modelId: uuid('model_id').notNull().references(() => models.id, { onDelete: 'cascade' }),
    datasetId: uuid('dataset_id').notNull().references(() => datasets.id, { onDelete: 'cascade' }),
    hookPoints: text('hook_points').array().notNull(),
    settings: jsonb('settings').notNull(),
    status: status(),
    progress: jsonb('progress'),
    /** where it ran: {model: Placement} (models/contracts/device.ts), written once known */
    device: jsonb('device'),
    /** per-hook running statistics (mean, variance, mean norm) */
    stats: jsonb('stats'),
    path: text('path'),
    jobId: text('job_id'),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('extractions_model_idx').on(t.modelId), index('extractions_dataset_idx').on(t.datasetId)],
);

/** SAE training runs (one run may train one SAE per hook point). */
export const trainings = pgTable(
  'trainings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    extractionId: uuid('extraction_id').notNull().references(() => extractions.id, { onDelete: 'cascade' }),
    config: jsonb('config').notNull(),
    /** what its SAEs are for: with the model and hook, the family they join (null: `default`) */
    purpose: text('purpose'),
    status: status(),
    progress: jsonb('progress'),
    /** where it ran: {sae, model} placements (model: the CE-loss evaluator's), written once known */
    device: jsonb('device'),
    /** a pause or stop a user asked for, which the running job reads between steps (null: none) */
    control: text('control', { enum: ['pause', 'stop'] }),
    jobId: text('job_id'),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('trainings_extraction_idx').on(t.extractionId)],
);

/**
 * Metric history of a training, one row per (hook, step). The primary key makes
 * a resumed run's re-reported steps overwrite rather than duplicate.
 */
export const trainingMetrics = pgTable(
  'training_metrics',
  {
    trainingId: uuid('training_id').notNull().references(() => trainings.id, { onDelete: 'cascade' }),
    hookPoint: text('hook_point').notNull(),
    step: integer('step').notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull(),
    ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** {loss, mse, l1, l0, explained_variance, dead_fraction, ...} */
    values: jsonb('values').notNull(),
  },
  (t) => [primaryKey({ columns: [t.trainingId, t.hookPoint, t.step] })],
);

/** Trained (or imported) sparse autoencoders, stored in SAELens layout under `path`. */
export const saes = pgTable(
  'saes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    trainingId: uuid('training_id').references(() => trainings.id, { onDelete: 'set null' }),
    modelId: uuid('model_id').references(() => models.id, { onDelete: 'set null' }),
    hookPoint: text('hook_point').notNull(),
    architecture: text('architecture', { enum: ['relu', 'topk', 'batchtopk', 'jumprelu'] }).notNull(),
    dIn: integer('d_in').notNull(),
    dSae: integer('d_sae').notNull(),
    /** SAELens cfg.json */
    cfg: jsonb('cfg').notNull(),
    metrics: jsonb('metrics'),
    path: text('path').notNull(),
    /** its family (same model, hook and purpose), and its version there: 1, 2, … in creation order */
    familyId: uuid('family_id').references((): AnyPgColumn => saeFamilies.id, { onDelete: 'set null' }),
    version: integer('version'),
    createdAt: createdAt(),
  },
  (t) => [index('saes_training_idx').on(t.trainingId), index('saes_family_idx').on(t.familyId)],
);

/**
 * SAEs of one model, hook point and purpose form a family; its versions are
 * the SAEs in creation order, and one is the family's active SAE (what the
 * Features page, the inspector and `sae=<family id>` use by default).
 */
export const saeFamilies = pgTable(
  'sae_families',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    modelId: uuid('model_id').references(() => models.id, { onDelete: 'set null' }),
    hookPoint: text('hook_point').notNull(),
    /** what its SAEs are for (a training's `purpose`; `default` when none was given) */
    purpose: text('purpose').notNull(),
    activeSaeId: uuid('active_sae_id').references((): AnyPgColumn => saes.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [unique('sae_families_key').on(t.modelId, t.hookPoint, t.purpose).nullsNotDistinct()],
);

/**
 * Hyperparameter sweeps (`sweep.run`): a base training config, a search
 * space, a method and an objective; each trial is an ordinary training.
 * `spec` is models/contracts/sweeps.ts's resolved spec.
 */
export const sweeps = pgTable(
  'sweeps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    extractionId: uuid('extraction_id').notNull().references(() => extractions.id, { onDelete: 'cascade' }),
    spec: jsonb('spec').notNull(),
    status: status(),
    /** {trialsDone, best, …} as the coordinator last wrote it */
    progress: jsonb('progress'),
    jobId: text('job_id'),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('sweeps_extraction_idx').on(t.extractionId)],
);

/**
 * The trials of a sweep, numbered from 0 in the order proposed. A trial and
 * its training are inserted in one transaction, so a trial is never
 * proposed twice nor its training made twice.
 */
export const sweepTrials = pgTable(
  'sweep_trials',
  {
    sweepId: uuid('sweep_id').notNull().references(() => sweeps.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    /** the sampled values of the search space's parameters */
    params: jsonb('params').notNull(),
    trainingId: uuid('training_id').references(() => trainings.id, { onDelete: 'set null' }),
    status: text('status', { enum: ['running', 'completed', 'pruned', 'failed', 'cancelled'] }).notNull().default('running'),
    /** the objective's value once known (null: pruned before it was, failed, or not yet) */
    objective: doublePrecision('objective'),
    /** why it was pruned or failed, in words */
    reason: text('reason'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.sweepId, t.number] }), unique('sweep_trials_training_key').on(t.trainingId)],
);

/**
 * Feature discovery runs (`features.discover`): an SAE over an extraction's
 * activations, or over a dataset's text run through its model (`text`
 * set). The one that completes last wrote the SAE's features.
 */
export const discoveries = pgTable(
  'discoveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    saeId: uuid('sae_id').notNull().references(() => saes.id, { onDelete: 'cascade' }),
    extractionId: uuid('extraction_id').references(() => extractions.id, { onDelete: 'set null' }),
    /** the dataset of a discovery over text */
    datasetId: uuid('dataset_id').references(() => datasets.id, { onDelete: 'set null' }),
    /** {contextLength, maxTokens} of a discovery over text; null for one over an extraction */
    text: jsonb('text'),
    /** {topK, left, right} */
    settings: jsonb('settings').notNull(),
    status: text('status', { enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] }).notNull().default('queued'),
    /** {phase, rowsDone, rowsTotal, featuresLabelled, etaSeconds} */
    progress: jsonb('progress'),
    /** where it ran: {sae, model} placements (model only over text), written once known */
    device: jsonb('device'),
    /** activation rows scanned */
    rows: bigint('rows', { mode: 'number' }),
    jobId: text('job_id'),
    error: text('error'),
    /** a problem that did not stop it (the LLM endpoint failed: heuristic labels kept) */
    warning: text('warning'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('discoveries_sae_idx').on(t.saeId, t.createdAt)],
);

/**
 * Per-feature statistics and labels of an SAE, written by its last completed
 * discovery. Each list order is (column, index) in one index so that a page
 * of any sort, either way, is an index scan.
 */
export const features = pgTable(
  'features',
  {
    saeId: uuid('sae_id').notNull().references(() => saes.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    /** the discovery that wrote it */
    discoveryId: uuid('discovery_id').references(() => discoveries.id, { onDelete: 'set null' }),
    /** fraction of tokens on which the feature is active */
    frequency: real('frequency').notNull(),
    maxActivation: real('max_activation').notNull(),
    meanActivation: real('mean_activation').notNull(),
    /** {edges: number[], counts: number[]} */
    histogram: jsonb('histogram'),
    /** the label shown: the user's, else the LLM's, else the heuristic one */
    label: text('label'),
    labelSource: text('label_source', { enum: ['heuristic', 'llm', 'user'] }),
    /** interpretability score: the heuristic label's agreement, 0..1 */
    score: real('score'),
    heuristicLabel: text('heuristic_label'),
    heuristicScore: real('heuristic_score'),
    heuristicKind: text('heuristic_kind', { enum: ['token', 'after', 'none'] }),
    /** the LLM's label, kept when a user's label hides it */
    llmLabel: text('llm_label'),
    /** distinct peak tokens of the top examples, most common first (search by token) */
    peakTokens: integer('peak_tokens').array().notNull().default(sql`'{}'::integer[]`),
    /** [{token, text, count}] of the most common peak tokens (at most 3), as the list shows them */
    topTokens: jsonb('top_tokens'),
    favourite: boolean('favourite').notNull().default(false),
    notes: text('notes'),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.saeId, t.index] }),
    index('features_frequency_idx').on(t.saeId, t.frequency, t.index),
    index('features_score_idx').on(t.saeId, t.score, t.index),
    index('features_max_idx').on(t.saeId, t.maxActivation, t.index),
    index('features_favourite_idx').on(t.saeId, t.index).where(sql`${t.favourite}`),
    index('features_peak_tokens_idx').using('gin', t.peakTokens),
    // case-insensitive substring search (ILIKE '%…%') through trigrams
    index('features_label_trgm_idx').using('gin', t.label.op('gin_trgm_ops')),
  ],
);

/** Top-k max-activating contexts of a feature. */
export const featureExamples = pgTable(
  'feature_examples',
  {
    saeId: uuid('sae_id').notNull(),
    featureIndex: integer('feature_index').notNull(),
    rank: smallint('rank').notNull(),
    maxValue: real('max_value').notNull(),
    /** token ids of the context window */
    tokens: integer('tokens').array().notNull(),
    /** the feature's activation on each token of the window */
    values: real('values').array().notNull(),
    /** dataset position of the first token of the window */
    datasetOffset: bigint('dataset_offset', { mode: 'number' }).notNull(),
    /** dataset position of the peak token (null in rows written before it was stored) */
    position: bigint('position', { mode: 'number' }),
  },
  (t) => [
    primaryKey({ columns: [t.saeId, t.featureIndex, t.rank] }),
    foreignKey({ columns: [t.saeId, t.featureIndex], foreignColumns: [features.saeId, features.index] }).onDelete('cascade'),
  ],
);

/** Cached analysis results (logit lens, correlations, ablation), with an expiry. */
export const analysisCache = pgTable(
  'analysis_cache',
  {
    key: text('key').primaryKey(),
    kind: text('kind').notNull(),
    saeId: uuid('sae_id').references(() => saes.id, { onDelete: 'cascade' }),
    featureIndex: integer('feature_index'),
    result: jsonb('result').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('analysis_cache_expires_idx').on(t.expiresAt)],
);

/** User settings (LLM endpoint, defaults), one JSON value per key. */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: updatedAt(),
});

/**
 * System-monitor history. `resolution_s` 0 holds raw samples (min = max =
 * last = avg); 60 holds one-minute roll-ups. Raw rows are kept for a few
 * hours, roll-ups for SYSTEM_RETENTION_H.
 */
export const systemMetrics = pgTable(
  'system_metrics',
  {
    host: text('host').notNull(),
    resolutionS: smallint('resolution_s').notNull(),
    ts: timestamp('ts', { withTimezone: true, mode: 'date' }).notNull(),
    metric: text('metric').notNull(),
    min: doublePrecision('min').notNull(),
    max: doublePrecision('max').notNull(),
    last: doublePrecision('last').notNull(),
    avg: doublePrecision('avg').notNull(),
  },
  (t) => [primaryKey({ columns: [t.host, t.resolutionS, t.ts, t.metric] }), index('system_metrics_resolution_ts_idx').on(t.resolutionS, t.ts),
    // single-metric reads (one chart) without scanning every metric of the window
    index('system_metrics_metric_idx').on(t.host, t.resolutionS, t.metric, t.ts),
  ],
);

/** Event payloads too large for NOTIFY, sent by reference and deleted after a few minutes. */
export const eventPayloads = pgTable(
  'event_payloads',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    topic: text('topic').notNull(),
    data: jsonb('data').notNull(),
    ts: bigint('ts', { mode: 'number' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('event_payloads_created_idx').on(t.createdAt)],
);

/** Worker processes and their heartbeats (for `GET /api/health`, and to find the jobs of dead workers). */
export const workers = pgTable('workers', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  concurrency: integer('concurrency').notNull(),
  queues: text('queues').array().notNull().default(sql`'{}'::text[]`),
  /** memory of the worker's host (or its cgroup limit), bytes; null for workers that did not report it */
  memoryBytes: bigint('memory_bytes', { mode: 'number' }),
  /** the worker's LOUPE_DEVICE (auto, cpu, webgpu); null for workers that did not report it */
  device: text('device'),
  /** {adapters, note}: the WebGPU adapters its probe found at start (models/contracts/device.ts); null until the probe answers */
  adapters: jsonb('adapters'),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
  /** the worker's own clock at its last heartbeat (shown to users) */
  lastSeen: timestamp('last_seen', { withTimezone: true, mode: 'date' }).notNull(),
  /**
   * The database's clock at the last heartbeat: the one clock every host
   * shares, so a worker on a host whose clock is off is not taken for dead.
   */
  heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
