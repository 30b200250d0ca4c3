/**
 * Hyperparameter sweeps: a base training config, a search space over some of
 * its settings, a search method and an objective; each trial is an ordinary
 * training of one hook point, run by `sae.train` and coordinated by the
 * `sweep.run` job (workers/sweep.ts). The API's requests and answers, the
 * spec a sweep keeps, the `sweep/{id}` topic's events and the job's data.
 *
 * The space, the methods and the objective are models/sweep/'s: their
 * schemas are pure zod, safe in the browser.
 */
import { z } from 'zod';
import { SWEEP_METHODS, TRIAL_STATES } from '../sweep/propose.ts';
import { constraintSchema, objectiveSchema } from '../sweep/objective.ts';
import { gridSize, searchSpaceSchema } from '../sweep/space.ts';
import { metricKeySchema } from './metrics.ts';
import { purposeSchema, TRAINING_LIMITS, TRAINING_STATUSES, trainConfigInputSchema, trainingHookPointsSchema } from './trainings.ts';

/** Limits and defaults of a sweep. */
export const SWEEP_LIMITS = {
  MAX_TRIALS: 500,
  /** trials of a random or TPE sweep that does not say */
  DEFAULT_BUDGET: 20,
  MAX_PARALLELISM: 32,
  DEFAULT_PARALLELISM: 2,
  /** earlier trials the median pruner needs before it prunes */
  DEFAULT_MIN_TRIALS: 3,
  MAX_MIN_TRIALS: 100,
} as const;

/** Lifecycle of a sweep (the statuses of every artifact; a sweep is never paused). */
export const SWEEP_STATUSES = TRAINING_STATUSES;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

/** Lifecycle of a trial: running (its training queued, running or paused), then completed, pruned, failed or cancelled. */
export const TRIAL_STATUSES = TRIAL_STATES;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];

/**
 * Training settings a space may not vary: they set how a trial is measured
 * (its metric points, evaluations), not what it learns, and the pruner
 * compares trials step by step on the same measures.
 */
export const UNSWEPT_SETTINGS = ['metricsEvery', 'checkpointEvery', 'evalEvery', 'evalWindows'] as const;

/** The pruner of a request: the median rule, each field defaulted (see {@link createSweepSchema}). */
const prunerInputSchema = z
  .object({
    enabled: z.boolean().optional(),
    /** steps before which a trial is never pruned */
    warmupSteps: z.number().int().min(0).max(TRAINING_LIMITS.MAX_STEPS).optional(),
    /** finished trials needed before any is pruned */
    minTrials: z.number().int().min(1).max(SWEEP_LIMITS.MAX_MIN_TRIALS).optional(),
  })
  .strict();

/**
 * `POST /api/sweeps` body. Defaults: hookPoint the extraction's first,
 * method `tpe`, seed 0, parallelism 2, budget the grid's size (grid) or 20,
 * purpose `sweep <name>`, pruner on for random and TPE (off for a grid)
 * with a warm-up of a third of the base config's steps and 3 trials.
 * A trial's config is `base` (over the template's config, when
 * `templateId` is given) with the trial's params over it.
 */
export const createSweepSchema = z
  .object({
    extractionId: z.string().uuid(),
    name: z.string().trim().min(1).max(200).optional(),
    /** the one hook point every trial trains on */
    hookPoint: trainingHookPointsSchema.element.optional(),
    base: trainConfigInputSchema.optional(),
    templateId: z.string().uuid().optional(),
    /** what the trials' SAEs are for (their family) */
    purpose: purposeSchema.optional(),
    /** training config keys to ranges or choices, e.g. `{ "k": { "type": "int", "min": 16, "max": 128, "log": true } }` */
    space: searchSpaceSchema,
    method: z.enum(SWEEP_METHODS).default('tpe'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    objective: objectiveSchema,
    /** trials to run (a grid: at most its size) */
    budget: z.number().int().min(1).max(SWEEP_LIMITS.MAX_TRIALS).optional(),
    /** trials that train at once */
    parallelism: z.number().int().min(1).max(SWEEP_LIMITS.MAX_PARALLELISM).default(SWEEP_LIMITS.DEFAULT_PARALLELISM),
    pruner: prunerInputSchema.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const keys = Object.keys(b.space);
    for (const key of keys) {
      if ((UNSWEPT_SETTINGS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path: ['space', key], message: `${key} sets how trials are measured, not what they learn: set it in base` });
      }
    }
    if (keys.includes('dSae') && keys.includes('expansionFactor')) ctx.addIssue({ code: 'custom', path: ['space', 'expansionFactor'], message: 'sweep dSae or expansionFactor, not both' });
    if (b.method !== 'grid') return;
    const size = gridSize(b.space);
    if (b.budget !== undefined && b.budget > size) ctx.addIssue({ code: 'custom', path: ['budget'], message: `the grid has ${size} points: at most ${size} trials` });
    if (b.budget === undefined && size > SWEEP_LIMITS.MAX_TRIALS) {
      ctx.addIssue({ code: 'custom', path: ['budget'], message: `the grid has ${size} points, more than ${SWEEP_LIMITS.MAX_TRIALS} trials: give a budget (its first points) or fewer points` });
    }
  });
export type CreateSweep = z.input<typeof createSweepSchema>;

/** An objective as a sweep keeps it: the direction resolved. */
export const sweepObjectiveSchema = z.object({ metric: metricKeySchema, direction: z.enum(['maximize', 'minimize']), constraints: z.array(constraintSchema) });

/** The spec of a sweep, every default resolved, as `sweeps.spec` keeps it. */
export const sweepSpecSchema = z.object({
  hookPoint: z.string(),
  /** the request's base over its template's config (models/sae/config.ts mergeTrainConfig); defaults apply per trial */
  base: trainConfigInputSchema,
  templateId: z.string().nullable(),
  purpose: z.string(),
  space: searchSpaceSchema,
  method: z.enum(SWEEP_METHODS),
  seed: z.number().int(),
  objective: sweepObjectiveSchema,
  budget: z.number().int(),
  parallelism: z.number().int(),
  pruner: z.object({ enabled: z.boolean(), warmupSteps: z.number().int(), minTrials: z.number().int() }),
});
export type SweepSpec = z.infer<typeof sweepSpecSchema>;

/** Trial params: the space's keys to the values of one trial. */
const paramsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/**
 * Where a sweep stands: trials made (of the spec's budget) by status, and
 * the best completed trial that keeps the constraints (by the objective).
 */
export const sweepProgressSchema = z.object({
  trials: z.number().int(),
  running: z.number().int(),
  completed: z.number().int(),
  pruned: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  best: z.object({ number: z.number().int(), value: z.number(), params: paramsSchema }).nullable(),
});
export type SweepProgress = z.infer<typeof sweepProgressSchema>;

/** A sweep as the API shows it. Times in ms since epoch. */
export const sweepSchema = z.object({
  id: z.string(),
  name: z.string(),
  extractionId: z.string(),
  /** the extraction's model and dataset (null when gone) */
  modelName: z.string().nullable(),
  datasetName: z.string().nullable(),
  spec: sweepSpecSchema,
  /** the objective in words: "max explained variance with L0 ≤ 40" */
  objectiveText: z.string(),
  status: z.enum(SWEEP_STATUSES),
  progress: sweepProgressSchema,
  jobId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});
export type Sweep = z.infer<typeof sweepSchema>;

/** A trial as the API shows it. */
export const sweepTrialSchema = z.object({
  number: z.number().int(),
  params: paramsSchema,
  status: z.enum(TRIAL_STATUSES),
  /** the objective's metric: final once completed, the latest value while it runs; null before any */
  objective: z.number().nullable(),
  /** higher is better (models/sweep/objective.ts scoreTrial); null without a value */
  score: z.number().nullable(),
  /** whether its metrics keep every constraint; null before any metric */
  feasible: z.boolean().nullable(),
  /** the sweep's best trial */
  best: z.boolean(),
  /** why it was pruned, failed or cancelled */
  reason: z.string().nullable(),
  /** its training (null when deleted, or when none could be made) */
  trainingId: z.string().nullable(),
  training: z.object({ status: z.enum(TRAINING_STATUSES), step: z.number().int(), totalSteps: z.number().int(), stopped: z.boolean() }).nullable(),
  /** the registry's primary metrics at its last metric point and evaluation (null: not recorded) */
  final: z.partialRecord(metricKeySchema, z.number().nullable()),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
});
export type SweepTrial = z.infer<typeof sweepTrialSchema>;

/** `GET /api/sweeps/{id}`: the sweep, its trials by number, and each param's importance (η² share of the completed trials' scores, models/sweep/importance.ts). */
export const sweepDetailSchema = sweepSchema.extend({
  trials: z.array(sweepTrialSchema),
  importance: z.record(z.string(), z.number()),
});
export type SweepDetail = z.infer<typeof sweepDetailSchema>;

/** `GET /api/sweeps` query. */
export const sweepListQuerySchema = z.object({
  extractionId: z.string().uuid().optional(),
  status: z.enum(SWEEP_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `GET /api/sweeps`: newest first. */
export const sweepListSchema = z.object({ sweeps: z.array(sweepSchema) });

/** `POST /api/sweeps` answer. */
export const createdSweepSchema = z.object({ sweep: sweepSchema, job: z.object({ id: z.string(), kind: z.string() }) });

/** `{id}` of the sweep routes. */
export const sweepIdParamSchema = z.object({ id: z.string().uuid() });

/** `{id}` and `{number}` of a trial's routes. */
export const sweepTrialParamSchema = z.object({ id: z.string().uuid(), number: z.coerce.number().int().min(0).max(SWEEP_LIMITS.MAX_TRIALS) });

/** `POST /api/sweeps/{id}/trials/{number}/template` body: the new training template's name. */
export const trialTemplateSchema = z.object({ name: z.string().trim().min(1).max(100) }).strict();

/**
 * `POST /api/sweeps/{id}/trials/{number}/train` body: a full-length training
 * with the trial's config. totalTokens: else the base's, else one pass over
 * the stored rows; purpose: else the sweep's without its `sweep ` prefix.
 */
export const trialTrainSchema = z
  .object({
    totalTokens: z.number().int().min(1).max(TRAINING_LIMITS.MAX_TOKENS).optional(),
    name: z.string().trim().min(1).max(200).optional(),
    purpose: purposeSchema.optional(),
  })
  .strict();

/** Payload of topic `sweep/{id}`: on every change of its status or progress (the trials' own progress is on their `training/{id}`). */
export const sweepEventSchema = z.object({
  id: z.string(),
  status: z.enum(SWEEP_STATUSES),
  progress: sweepProgressSchema,
  error: z.string().nullable(),
  /** ms since epoch */
  ts: z.number(),
});
export type SweepEvent = z.infer<typeof sweepEventSchema>;

/** Data of a `sweep.run` job: the `sweeps` row it coordinates. */
export const sweepJobDataSchema = z.object({ sweepId: z.string().uuid() });
export type SweepJobData = z.infer<typeof sweepJobDataSchema>;
