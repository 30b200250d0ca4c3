/**
 * Pure helpers of the Compare page: its view as the URL keeps it (runs, x
 * axis, log y, smoothing, the frontier's y, the final table's sort), the
 * runs' labels, EMA smoothing of a curve, the best value of each metric, the
 * sort of the final table and the Pareto front of the frontier chart. Kept
 * apart from the components so they are tested without a browser.
 */
import { COMPARE_LIMITS, COMPARE_X, type CompareRun, type CompareX } from '../../models/contracts/compare.ts';
import { METRIC_TIERS, METRICS, metricDef, type MetricDef, type MetricKey } from '../../models/contracts/metrics.ts';

/** The metrics drawn as overlaid curves, one chart each, in this order. */
export const CURVE_METRICS: readonly MetricKey[] = ['loss', 'mse', 'l0', 'explainedVariance', 'deadFraction', 'ceLossRecovered'];
/** What the frontier chart may put on its y axis (its x is always L0). */
export const FRONTIER_Y = ['explainedVariance', 'ceLossRecovered'] as const satisfies readonly MetricKey[];
/** A metric the frontier chart may put on its y axis. */
export type FrontierY = (typeof FRONTIER_Y)[number];
/** The largest smoothing weight the slider offers (1 would freeze a curve at its first value). */
export const MAX_SMOOTH = 0.99;

/** How the final table is sorted: by a metric or by the run's name; `desc` for descending. */
export interface CompareSort {
  key: MetricKey | 'name';
  desc: boolean;
}

/** The Compare page's view, as the URL keeps it. */
export interface CompareView {
  /** training ids, in the order given, without repeats */
  ids: string[];
  x: CompareX;
  /** log-scale y axes on the curves */
  log: boolean;
  /** EMA weight, 0 (raw) to {@link MAX_SMOOTH} */
  smooth: number;
  frontier: FrontierY;
  /** null: the order of the runs as the server gives them */
  sort: CompareSort | null;
}

/** The view of an address that says nothing but the runs: steps, linear y, raw curves, explained variance, the server's order. */
export const DEFAULT_VIEW: CompareView = { ids: [], x: 'step', log: false, smooth: 0, frontier: 'explainedVariance', sort: null };

type Params = Partial<Record<string, string | string[] | undefined>>;
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** A sort as the URL writes it: `l0` ascending, `-l0` descending; null when not a sortable key. */
export function parseSort(s: string | undefined): CompareSort | null {
  if (!s) return null;
  const desc = s.startsWith('-');
  const key = desc ? s.slice(1) : s;
  if (key !== 'name' && !METRICS.some((m) => m.key === key)) return null;
  return { key: key as CompareSort['key'], desc };
}

/**
 * The view from the page's search params (as `useSearchParams` gives them);
 * what is missing or malformed takes its default. Ids are split at commas,
 * trimmed, and kept once each in their order.
 * @example parseCompareView({ ids: 'a,b', x: 'tokens', log: '1', smooth: '0.6' })
 */
export function parseCompareView(p: Params): CompareView {
  const ids = [
    ...new Set(
      (one(p.ids) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const x = one(p.x);
  const smooth = Number(one(p.smooth));
  const frontier = one(p.frontier);
  return {
    ids,
    x: (COMPARE_X as readonly string[]).includes(x ?? '') ? (x as CompareX) : DEFAULT_VIEW.x,
    log: one(p.log) === '1',
    smooth: Number.isFinite(smooth) && smooth > 0 ? Math.min(MAX_SMOOTH, smooth) : 0,
    frontier: (FRONTIER_Y as readonly string[]).includes(frontier ?? '') ? (frontier as FrontierY) : DEFAULT_VIEW.frontier,
    sort: parseSort(one(p.sort)),
  };
}

/**
 * The search params of a view, defaults left out (a plain comparison has a
 * plain URL); every key present, `undefined` where it goes, as
 * `setSearchParams` expects to clear it.
 */
export function compareSearchParams(v: CompareView): Record<string, string | undefined> {
  return {
    ids: v.ids.length ? v.ids.join(',') : undefined,
    x: v.x === DEFAULT_VIEW.x ? undefined : v.x,
    log: v.log ? '1' : undefined,
    smooth: v.smooth > 0 ? String(v.smooth) : undefined,
    frontier: v.frontier === DEFAULT_VIEW.frontier ? undefined : v.frontier,
    sort: v.sort ? `${v.sort.desc ? '-' : ''}${v.sort.key}` : undefined,
  };
}

/** The page's address of a view: `/compare?ids=a,b&x=tokens` (the commas left as they are, for a readable link). */
export function compareHref(v: Partial<CompareView> & { ids: string[] }): string {
  const parts = Object.entries(compareSearchParams({ ...DEFAULT_VIEW, ...v }))
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, val]) => `${k}=${encodeURIComponent(val).replaceAll('%2C', ',')}`);
  return parts.length ? `/compare?${parts.join('&')}` : '/compare';
}

/** `GET /api/trainings/compare` of a view's runs and x axis, `points` a curve. */
export function compareApiPath(v: Pick<CompareView, 'ids' | 'x'>, points: number = COMPARE_LIMITS.DEFAULT_POINTS): string {
  return `/api/trainings/compare?ids=${v.ids.map(encodeURIComponent).join(',')}&x=${v.x}&points=${points}`;
}

/**
 * A label per run, unique (the charts key their lines by it): the training's
 * name, with the hook when the training has several, and ` (2)`, ` (3)` … when
 * two runs would still read the same.
 */
export function runLabels(runs: readonly Pick<CompareRun, 'key' | 'trainingId' | 'trainingName' | 'hook'>[]): Map<string, string> {
  const hooksOf = new Map<string, number>();
  for (const r of runs) hooksOf.set(r.trainingId, (hooksOf.get(r.trainingId) ?? 0) + 1);
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const r of runs) {
    const base = hooksOf.get(r.trainingId)! > 1 ? `${r.trainingName} · ${r.hook}` : r.trainingName;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    out.set(r.key, n === 1 ? base : `${base} (${n})`);
  }
  return out;
}

/**
 * Exponential moving average of a curve: `s[0] = v[0]`,
 * `s[i] = w · s[i−1] + (1 − w) · v[i]`, with `w` the smoothing weight
 * (0: the values as they are). A value that is not finite is left out: its
 * place stays NaN and the average goes on from the previous one.
 * @example ema([1, 2, 3], 0.5) // [1, 1.5, 2.25]
 */
export function ema(v: readonly number[], w: number): number[] {
  if (!(w > 0)) return [...v];
  const out = new Array<number>(v.length);
  let s = NaN;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) {
      out[i] = NaN;
      continue;
    }
    s = Number.isFinite(s) ? w * s + (1 - w) * x : x;
    out[i] = s;
  }
  return out;
}

/**
 * The metrics of the final table: those of the registry that some run
 * recorded, primary first (the registry's tier order, then its own order).
 */
export function finalMetrics(runs: readonly Pick<CompareRun, 'final'>[]): MetricDef[] {
  const tier = (m: MetricDef) => METRIC_TIERS.indexOf(m.tier);
  return METRICS.map((m, i) => ({ m, i }))
    .filter(({ m }) => runs.some((r) => r.final[m.key] != null && Number.isFinite(r.final[m.key]!)))
    .sort((a, b) => tier(a.m) - tier(b.m) || a.i - b.i)
    .map(({ m }) => m);
}

/**
 * Per metric, the runs holding its best value (per the registry's `better`;
 * nulls ignored; ties all marked). A metric with no direction, with fewer
 * than two runs that recorded it, or on which every run agrees has none: a
 * mark there would tell nothing.
 */
export function bestRuns(runs: readonly Pick<CompareRun, 'key' | 'final'>[], keys: readonly MetricKey[]): Map<MetricKey, Set<string>> {
  const out = new Map<MetricKey, Set<string>>();
  for (const key of keys) {
    const better = metricDef(key).better;
    const marked = new Set<string>();
    out.set(key, marked);
    if (!better) continue;
    const values = runs.flatMap((r) => {
      const v = r.final[key];
      return v != null && Number.isFinite(v) ? [{ key: r.key, v }] : [];
    });
    if (values.length < 2) continue;
    const best = better === 'higher' ? Math.max(...values.map((x) => x.v)) : Math.min(...values.map((x) => x.v));
    if (values.every((x) => x.v === best)) continue;
    for (const x of values) if (x.v === best) marked.add(x.key);
  }
  return out;
}

/**
 * The runs in the order of a sort: by name (case-insensitive), or by a
 * metric's final value, runs without one last in either direction; equal
 * values keep the server's order. Null: the server's order.
 */
export function sortRuns<R extends Pick<CompareRun, 'key' | 'final'>>(runs: readonly R[], sort: CompareSort | null, labels: ReadonlyMap<string, string>): R[] {
  if (!sort) return runs.slice();
  const sign = sort.desc ? -1 : 1;
  const value = (r: R): number | string | null => {
    if (sort.key === 'name') return (labels.get(r.key) ?? r.key).toLowerCase();
    const v = r.final[sort.key];
    return v != null && Number.isFinite(v) ? v : null;
  };
  return runs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const va = value(a.r);
      const vb = value(b.r);
      if (va === null || vb === null) return va === vb ? a.i - b.i : va === null ? 1 : -1;
      const c = va < vb ? -1 : va > vb ? 1 : 0;
      return c * sign || a.i - b.i;
    })
    .map((x) => x.r);
}

/**
 * The sort after a click on a column's header: first the better values
 * first (ascending for a lower-is-better metric and for names, descending
 * otherwise), then the other way.
 */
export function nextSort(current: CompareSort | null, key: CompareSort['key']): CompareSort {
  if (current?.key === key) return { key, desc: !current.desc };
  return { key, desc: key !== 'name' && metricDef(key).better !== 'lower' };
}

/** A point of the frontier chart. */
export interface FrontierPoint {
  key: string;
  /** L0 (lower is better) */
  x: number;
  /** explained variance or CE-loss recovered (higher is better) */
  y: number;
}

/**
 * The Pareto front of points where a lower x and a higher y are better:
 * the points no other point dominates (another with x ≤ and y ≥, better in
 * one), by ascending x. Equal points do not dominate each other: all are on
 * the front. Points with a value that is not finite are left out. O(n log n).
 * @example paretoFront([{key:'a',x:1,y:1},{key:'b',x:2,y:0.5},{key:'c',x:3,y:2}]) // a, c
 */
export function paretoFront<P extends FrontierPoint>(points: readonly P[]): P[] {
  const sorted = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x || b.y - a.y);
  const out: P[] = [];
  // the best y of the points of smaller x: a point is on the front when it beats it and is the top of its x
  let bestBefore = -Infinity;
  for (let i = 0; i < sorted.length; ) {
    const x = sorted[i]!.x;
    const top = sorted[i]!.y;
    let j = i;
    for (; j < sorted.length && sorted[j]!.x === x; j++) if (sorted[j]!.y === top && top > bestBefore) out.push(sorted[j]!);
    bestBefore = Math.max(bestBefore, top);
    i = j;
  }
  return out;
}

/** A run's state beside its name while it is not completed: `running, step 120`. */
export function runStateLabel(r: Pick<CompareRun, 'status' | 'step'>): string {
  return r.step > 0 ? `${r.status}, step ${r.step.toLocaleString('en-US')}` : r.status;
}

/** A setting's value as the diff table writes it: numbers as they are (integers with separators), yes / no, – for none. */
export function formatSetting(v: string | number | boolean | null): string {
  if (v === null) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) >= 10_000 ? v.toLocaleString('en-US') : String(v);
  return v;
}
