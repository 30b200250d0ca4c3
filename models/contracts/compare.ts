/**
 * `GET /api/trainings/compare?ids=`: trainings side by side. A training of
 * several hook points is one run per hook (one SAE each); the answer holds,
 * per run, what it is and its final metrics, the settings that differ
 * between the runs (the equal ones apart, folded away by the page), and each
 * metric's curve per run, downsampled on the server
 * (models/series/downsample.ts: deterministic, first and last points kept,
 * every bucket's min and max).
 */
import { z } from 'zod';
import { metricKeySchema } from './metrics.ts';
import { SAE_ARCHITECTURE_NAMES, TRAINING_STATUSES } from './trainings.ts';

export const COMPARE_LIMITS = {
  /** trainings one comparison may name */
  MAX_TRAININGS: 50,
  /** points a curve is downsampled to, at most */
  MAX_POINTS: 2000,
  DEFAULT_POINTS: 400,
} as const;

/** What the curves are drawn against. */
export const COMPARE_X = ['step', 'tokens'] as const;
export type CompareX = (typeof COMPARE_X)[number];

/** `GET /api/trainings/compare` query: `ids` comma-separated training ids (one or more; repeats ignored). */
export const compareQuerySchema = z.object({
  ids: z
    .string()
    .min(1, 'name at least one training')
    .transform((s) => [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))])
    .pipe(z.array(z.string().uuid('expected training ids (uuids), comma-separated')).min(1, 'name at least one training').max(COMPARE_LIMITS.MAX_TRAININGS)),
  x: z.enum(COMPARE_X).default('step'),
  points: z.coerce.number().int().min(10).max(COMPARE_LIMITS.MAX_POINTS).default(COMPARE_LIMITS.DEFAULT_POINTS),
});
export type CompareQuery = z.output<typeof compareQuerySchema>;

/** One run: one hook of one training (its SAE once completed). */
export const compareRunSchema = z.object({
  /** `${trainingId}:${hook}`, the key of its curves */
  key: z.string(),
  trainingId: z.string(),
  trainingName: z.string(),
  hook: z.string(),
  saeId: z.string().nullable(),
  modelId: z.string().nullable(),
  modelName: z.string().nullable(),
  datasetName: z.string().nullable(),
  architecture: z.enum(SAE_ARCHITECTURE_NAMES),
  status: z.enum(TRAINING_STATUSES),
  /** the last step with metrics, and its tokens */
  step: z.number().int(),
  tokens: z.number(),
  /**
   * Final values: each training metric at the last metric point, each
   * evaluation metric at the last evaluation that measured it (null: never
   * recorded). Keys are models/contracts/metrics.ts's.
   */
  final: z.record(metricKeySchema, z.number().nullable()),
});
export type CompareRun = z.infer<typeof compareRunSchema>;

/** A setting's value in each run, in the order of `runs` (null: the run has no such setting). */
export const compareSettingSchema = z.object({
  /** `model`, `dataset`, `hook`, `purpose`, or a key of the training config (`k`, `lr`, …) */
  key: z.string(),
  values: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

/** One curve: x (steps or tokens), values, and each bucket's extremes (equal to v where not downsampled). */
export const compareCurveSchema = z.object({
  run: z.string(),
  x: z.array(z.number()),
  v: z.array(z.number()),
  min: z.array(z.number()),
  max: z.array(z.number()),
});
export type CompareCurve = z.infer<typeof compareCurveSchema>;

/** `GET /api/trainings/compare` answer. */
export const compareSchema = z.object({
  x: z.enum(COMPARE_X),
  runs: z.array(compareRunSchema),
  /** settings whose values differ between the runs, then those equal in all */
  differing: z.array(compareSettingSchema),
  same: z.array(z.object({ key: z.string(), value: z.union([z.string(), z.number(), z.boolean(), z.null()]) })),
  /** per metric key of the registry (every key present), one curve per run that recorded it, in the order of `runs` (empty where none did) */
  curves: z.record(metricKeySchema, z.array(compareCurveSchema)),
});
export type Compare = z.infer<typeof compareSchema>;
