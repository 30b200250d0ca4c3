/**
 * `GET /api/trainings/compare?ids=`: trainings side by side, one run per
 * (training, hook point) — its final metrics, the settings that differ
 * between the runs, and every metric's curve per run, downsampled here with
 * the charts' own downsampler (models/series/downsample.ts).
 *
 * Registered before server/routes/trainings.ts: `/api/trainings/{id}` would
 * otherwise take `compare` for an id (and answer 400 on it).
 *
 * Each training's points are read in one query (without the density
 * histograms of its evaluations) and reduced to its curves before the next
 * training's are read, so a comparison of long runs holds one training's
 * history at a time.
 */
import { createRoute } from '@hono/zod-openapi';
import { COMPARE_LIMITS, compareQuerySchema, compareSchema, type Compare, type CompareCurve, type CompareRun, type CompareX } from '../../models/contracts/compare.ts';
import { METRICS, metricDef, metricValue, type MetricKey } from '../../models/contracts/metrics.ts';
import { trainConfigSchema, type Training } from '../../models/contracts/trainings.ts';
import { downsampleWithExtremes } from '../../models/series/downsample.ts';
import { listSaes, type SaeRow } from '../../db/queries/saes.ts';
import { getTrainings, listCurvePoints, type CurvePoint } from '../../db/queries/trainings.ts';
import { toTraining } from '../artifacts/trainings.ts';
import { AppError } from '../errors.ts';
import { error, json } from '../responses.ts';
import type { App } from '../app.ts';

const compareRouteDef = createRoute({
  method: 'get',
  path: '/api/trainings/compare',
  summary: 'Trainings side by side: per run (one hook point of one training) its final metrics, the settings that differ between the runs, and each metric\'s curve per run, downsampled',
  description: `\`ids\`: up to ${COMPARE_LIMITS.MAX_TRAININGS} training ids, comma-separated (repeats ignored). Runs come in the order of \`ids\`, then of each training's hook points. \`final\` holds every metric of the registry (models/contracts/metrics.ts): a training metric at the last point with training metrics, an evaluation metric at the last evaluation that measured it, null when never recorded. \`differing\` and \`same\` split the settings model, dataset, hook and every key of the training config by whether all runs agree. Each curve is drawn against \`x\` (step or tokens) and downsampled deterministically to at most \`points\` points (default ${COMPARE_LIMITS.DEFAULT_POINTS}): equal x buckets, each at its last point with its min and max, the first and last points as recorded.`,
  request: { query: compareQuerySchema },
  responses: {
    200: json('The runs, their settings and their curves', compareSchema),
    400: error('Invalid ids, x or points (the details name the field)'),
    404: error('No training of some of the ids (`details.ids` lists them)'),
  },
});

type SettingValue = string | number | boolean | null;

/** The settings compared, in order: what was trained on, then the training config's keys in schema order. */
const CONFIG_KEYS = Object.keys(trainConfigSchema.shape) as (keyof Training['config'])[];

/** A setting's value as the answer holds it (a config written before a key existed has none: null). */
function settingValue(v: unknown): SettingValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

/** Every metric key of the registry mapped to `f(key)`. */
function byMetric<T>(f: (key: MetricKey) => T): Record<MetricKey, T> {
  return Object.fromEntries(METRICS.map((m) => [m.key, f(m.key)])) as Record<MetricKey, T>;
}

/**
 * One hook's run and its curves, from its points (ascending step). The last
 * point with training metrics gives the step, tokens and training finals;
 * each evaluation metric's final is its last recorded value.
 */
function runOf(training: Training, hook: string, points: readonly CurvePoint[], sae: SaeRow | undefined, x: CompareX, maxPoints: number): { run: CompareRun; curves: Record<MetricKey, CompareCurve | null> } {
  const key = `${training.id}:${hook}`;
  const lastTrain = points.findLast((p) => p.train !== null);
  const last = lastTrain ?? points.at(-1);
  const curves = byMetric((metric): CompareCurve | null => {
    const t: number[] = [];
    const v: number[] = [];
    for (const p of points) {
      const value = metricValue(metric, p);
      if (value === null) continue;
      t.push(x === 'step' ? p.step : p.tokens);
      v.push(value);
    }
    if (!t.length) return null;
    const d = downsampleWithExtremes(t, v, maxPoints);
    return { run: key, x: d.t, v: d.v, min: d.min, max: d.max };
  });
  const final = byMetric((metric) => {
    if (metricDef(metric).source === 'train') return lastTrain ? metricValue(metric, lastTrain) : null;
    // the curve keeps the last recorded value as it is
    return curves[metric]?.v.at(-1) ?? null;
  });
  return {
    run: {
      key,
      trainingId: training.id,
      trainingName: training.name,
      hook,
      saeId: sae?.id ?? null,
      modelId: training.modelId,
      modelName: training.modelName,
      datasetName: training.datasetName,
      architecture: training.config.architecture,
      status: training.status,
      step: last?.step ?? 0,
      tokens: last?.tokens ?? 0,
      final,
    },
    curves,
  };
}

/** `differing` and `same` over the runs: model, dataset, hook, purpose, then the config's keys. */
function settingsOf(runs: readonly { run: CompareRun; training: Training }[]): Pick<Compare, 'differing' | 'same'> {
  const settings: { key: string; values: SettingValue[] }[] = [
    { key: 'model', values: runs.map((r) => r.training.modelName) },
    { key: 'dataset', values: runs.map((r) => r.training.datasetName) },
    { key: 'hook', values: runs.map((r) => r.run.hook) },
    { key: 'purpose', values: runs.map((r) => r.training.purpose) },
    ...CONFIG_KEYS.map((key) => ({ key, values: runs.map((r) => settingValue(r.training.config[key])) })),
  ];
  const differing: Compare['differing'] = [];
  const same: Compare['same'] = [];
  for (const s of settings) {
    if (s.values.every((v) => v === s.values[0])) same.push({ key: s.key, value: s.values[0] ?? null });
    else differing.push(s);
  }
  return { differing, same };
}

export function registerCompareRoutes(app: App): void {
  app.openapi(compareRouteDef, async (c) => {
    const { ids, x, points } = c.req.valid('query');
    const { db } = c.get('deps');
    const rows = new Map((await getTrainings(db, ids)).map((r) => [r.id, r]));
    const missing = ids.filter((id) => !rows.has(id));
    if (missing.length) throw new AppError('not_found', 404, `No training ${missing.join(', ')}`, { field: 'ids', ids: missing });

    const runs: { run: CompareRun; training: Training }[] = [];
    const curves = byMetric((): CompareCurve[] => []);
    // one training at a time: its whole history is in memory only while its curves are made
    for (const id of ids) {
      // queue positions are not shown here
      const training = toTraining(rows.get(id)!, new Map());
      const [all, made] = await Promise.all([listCurvePoints(db, id), listSaes(db, { trainingId: id, limit: 500 })]);
      const byHook = new Map<string, CurvePoint[]>();
      for (const p of all) {
        const list = byHook.get(p.hook);
        if (list) list.push(p);
        else byHook.set(p.hook, [p]);
      }
      for (const hook of training.hookPoints) {
        const r = runOf(training, hook, byHook.get(hook) ?? [], made.find((s) => s.hookPoint === hook), x, points);
        runs.push({ run: r.run, training });
        for (const m of METRICS) {
          const curve = r.curves[m.key];
          if (curve) curves[m.key].push(curve);
        }
      }
    }
    return c.json({ x, runs: runs.map((r) => r.run), ...settingsOf(runs), curves }, 200);
  });
}
