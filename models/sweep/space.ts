/**
 * A sweep's search space: for each training setting swept, a range or a list
 * of choices. Its schema (used by the sweep API's contract), the exact grid
 * it spans, and uniform random draws from it.
 */
import { z } from 'zod';
import { trainConfigSchema } from '../contracts/trainings.ts';

/** Limits and defaults of a search space. */
export const SPACE_LIMITS = {
  MAX_PARAMS: 12,
  MAX_CHOICES: 64,
  MIN_POINTS: 2,
  MAX_POINTS: 100,
  /** grid points of a range that does not say */
  DEFAULT_POINTS: 5,
} as const;

export const paramValueSchema = z.union([z.string().min(1).max(200), z.number(), z.boolean()]);
/** A value of a training setting a sweep sets. */
export type ParamValue = z.infer<typeof paramValueSchema>;

const points = z
  .number()
  .int()
  .min(SPACE_LIMITS.MIN_POINTS, `points must be at least ${SPACE_LIMITS.MIN_POINTS}`)
  .max(SPACE_LIMITS.MAX_POINTS, `points must be at most ${SPACE_LIMITS.MAX_POINTS}`);

/** min < max, and a log range above 0. */
function checkRange(r: { min: number; max: number; log?: boolean | undefined }, ctx: z.RefinementCtx): void {
  if (!(r.min < r.max)) ctx.addIssue({ code: 'custom', path: ['max'], message: `min (${r.min}) must be below max (${r.max})` });
  if (r.log && !(r.min > 0)) ctx.addIssue({ code: 'custom', path: ['min'], message: `a log range needs min > 0 (got ${r.min})` });
}

const floatSpecSchema = z
  .object({ type: z.literal('float'), min: z.number(), max: z.number(), log: z.boolean().optional(), points: points.optional() })
  .strict()
  .superRefine(checkRange);
const intBound = z.number().int('int bounds must be integers');
const intSpecSchema = z
  .object({ type: z.literal('int'), min: intBound, max: intBound, log: z.boolean().optional(), points: points.optional() })
  .strict()
  .superRefine(checkRange);
const choiceSpecSchema = z
  .object({
    type: z.literal('choice'),
    values: z
      .array(paramValueSchema)
      .min(1, 'a choice needs at least one value')
      .max(SPACE_LIMITS.MAX_CHOICES, `a choice takes at most ${SPACE_LIMITS.MAX_CHOICES} values`)
      .refine((v) => new Set(v).size === v.length, 'choice values must be distinct'),
  })
  .strict();

/**
 * How one setting varies: a float or int range (log: on a log scale; points:
 * how many values the grid takes from it, default 5), or a list of choices.
 */
export const paramSpecSchema = z.discriminatedUnion('type', [floatSpecSchema, intSpecSchema, choiceSpecSchema]);
export type ParamSpec = z.infer<typeof paramSpecSchema>;
export type RangeSpec = Exclude<ParamSpec, { type: 'choice' }>;

const TRAIN_FIELDS: Record<string, z.ZodType> = trainConfigSchema.shape;

/** Why `spec` cannot vary training setting `key`, or null when it can. */
function fieldProblem(key: string, spec: ParamSpec): string | null {
  const field = TRAIN_FIELDS[key];
  if (!field) return `"${key}" is not a training setting`;
  const ends = spec.type === 'choice' ? spec.values : [spec.min, spec.max];
  const bad = ends.find((v) => !field.safeParse(v).success);
  if (bad !== undefined) return `${key} cannot be ${JSON.stringify(bad)}`;
  const number = field instanceof z.ZodNullable ? field.unwrap() : field;
  if (spec.type === 'float' && number instanceof z.ZodNumber && number.isInt) return `${key} takes integers: make it an int range`;
  return null;
}

/**
 * A search space: training config keys (`lr`, `k`, `architecture`, …) to how
 * each varies, 1 to 12 of them. Keys keep their order: the grid's last key
 * varies fastest.
 */
export const searchSpaceSchema = z.record(z.string(), paramSpecSchema).superRefine((space, ctx) => {
  const keys = Object.keys(space);
  if (keys.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'a search space needs at least one parameter' });
  if (keys.length > SPACE_LIMITS.MAX_PARAMS) ctx.addIssue({ code: 'custom', path: [], message: `a search space takes at most ${SPACE_LIMITS.MAX_PARAMS} parameters (got ${keys.length})` });
  for (const key of keys) {
    const problem = fieldProblem(key, space[key]!);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
});
export type SearchSpace = Record<string, ParamSpec>;
/** One trial's settings: a value for every key of the space. */
export type Params = Record<string, ParamValue>;

/**
 * A range as samplers see it: an interval [low, high] of a line (the log of
 * the value for log ranges; an int range widened by half a step at each end,
 * so that rounding gives every integer the same share), and the maps between
 * the line and values.
 */
export interface Scale {
  low: number;
  high: number;
  /** a value's place on the line */
  toLine(value: number): number;
  /** the value at a place on the line: rounded for ints, and within [min, max] */
  toValue(x: number): number;
}

/** The line `spec`'s values lie on (see {@link Scale}). */
export function rangeScale(spec: RangeSpec): Scale {
  const half = spec.type === 'int' ? 0.5 : 0;
  const toLine = spec.log ? Math.log : (v: number) => v;
  const clamp = (v: number) => Math.min(spec.max, Math.max(spec.min, v));
  return {
    low: toLine(spec.min - half),
    high: toLine(spec.max + half),
    toLine,
    toValue: (x) => {
      const v = spec.log ? Math.exp(x) : x;
      return clamp(spec.type === 'int' ? Math.round(v) : v);
    },
  };
}

/** Fifteen significant digits: 1e-4 rather than 0.00009999999999999999 in configs and names. */
const tidy = (x: number) => Number(x.toPrecision(15));

/**
 * The values `spec` takes on the grid: a range's `points` values evenly
 * spaced from min to max inclusive (geometrically when log; an int range's
 * rounded, without repeats), or a choice's values in their order.
 * @example gridAxis({ type: 'float', min: 1e-5, max: 1e-1, log: true }) // [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
 */
export function gridAxis(spec: ParamSpec): ParamValue[] {
  if (spec.type === 'choice') return [...spec.values];
  const n = spec.points ?? SPACE_LIMITS.DEFAULT_POINTS;
  const at = (i: number) => {
    if (i === 0) return spec.min;
    if (i === n - 1) return spec.max;
    const t = i / (n - 1);
    return spec.log ? spec.min * (spec.max / spec.min) ** t : spec.min + t * (spec.max - spec.min);
  };
  const values = Array.from({ length: n }, (_, i) => at(i));
  return spec.type === 'int' ? [...new Set(values.map(Math.round))] : values.map(tidy);
}

type Axes = (readonly [string, ParamValue[]])[];
const axesOf = (space: SearchSpace): Axes => Object.entries(space).map(([key, spec]) => [key, gridAxis(spec)] as const);
const sizeOf = (axes: Axes) => axes.reduce((n, [, axis]) => n * axis.length, 1);

/** Point `index` of the grid spanned by `axes`: mixed-radix digits, the last axis the lowest. */
function pointOf(axes: Axes, index: number): Params {
  const values: ParamValue[] = [];
  let rest = index;
  for (let i = axes.length - 1; i >= 0; i--) {
    const axis = axes[i]![1];
    values[i] = axis[rest % axis.length]!;
    rest = Math.floor(rest / axis.length);
  }
  return Object.fromEntries(axes.map(([key], i) => [key, values[i]!]));
}

/** Number of points of the grid: the product of the axes' lengths (exact below 2^53). */
export function gridSize(space: SearchSpace): number {
  return sizeOf(axesOf(space));
}

/**
 * Point `index` (0-based) of the grid, without listing the others: the
 * cartesian product of the axes in key order, the last key varying fastest.
 * Throws a RangeError outside [0, gridSize).
 */
export function gridPoint(space: SearchSpace, index: number): Params {
  const axes = axesOf(space);
  const size = sizeOf(axes);
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`no grid point ${index}: the grid has ${size}`);
  return pointOf(axes, index);
}

/** Every point of the grid, in order (see {@link gridPoint}); check {@link gridSize} first: it can be huge. */
export function gridPoints(space: SearchSpace): Params[] {
  const axes = axesOf(space);
  return Array.from({ length: sizeOf(axes) }, (_, i) => pointOf(axes, i));
}

/**
 * A uniform draw from the space: a range uniformly on its line (log-uniform
 * when log; every integer of an int range equally likely, or, when log, as
 * the rounded log-uniform draw falls), a choice's values equally likely.
 * `random`: uniform in [0, 1), e.g. `rng(seed)` of ./random.ts.
 */
export function sampleRandom(space: SearchSpace, random: () => number): Params {
  return Object.fromEntries(Object.entries(space).map(([key, spec]) => [key, sampleParam(spec, random)]));
}

/** One parameter's uniform draw (see {@link sampleRandom}). */
export function sampleParam(spec: ParamSpec, random: () => number): ParamValue {
  if (spec.type === 'choice') return spec.values[Math.floor(random() * spec.values.length)]!;
  const s = rangeScale(spec);
  return s.toValue(s.low + random() * (s.high - s.low));
}
