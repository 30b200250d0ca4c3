/**
 * System-monitor history: raw samples, one-minute roll-ups, pruning, and the
 * downsampled read behind `GET /api/system/metrics`.
 *
 * Downsampling is deterministic (W&B's full-fidelity style): buckets are
 * aligned to multiples of the bucket width since the epoch, each keeps its
 * min, max and last value, and the first and last stored points of a series
 * are always present, so the same query draws the same chart.
 */
import { sql } from 'drizzle-orm';
import type { MetricPoint } from '../../models/system/types.ts';
import type { Series, SystemMetrics, SystemWindow } from '../../models/contracts/api.ts';
import type { Db } from '../client.ts';

/** Raw samples are kept this long (ms); longer windows read the one-minute roll-ups. */
export const RAW_KEEP_MS = 2 * 3600_000;
const ROLLUP_S = 60;

/** Stores one sample's scalars for a host at `ts` (ms). */
export async function insertSystemPoints(db: Db, host: string, ts: number, points: readonly MetricPoint[]): Promise<void> {
  if (points.length === 0) return;
  const metrics = points.map((p) => p.metric);
  const values = points.map((p) => p.value);
  await db.execute(sql`
    INSERT INTO system_metrics (host, resolution_s, ts, metric, min, max, last, avg)
    SELECT ${host}, 0, to_timestamp(${ts / 1000}), m, v, v, v, v
    FROM unnest(${sql.param(metrics)}::text[], ${sql.param(values)}::float8[]) AS u(m, v)
    ON CONFLICT DO NOTHING`);
}

/**
 * Computes (or recomputes) the one-minute roll-ups of every host's complete
 * minutes in the last `lookbackMin` minutes before `now` (ms). Idempotent.
 */
export async function rollupSystemMetrics(db: Db, now: number, lookbackMin = 5): Promise<void> {
  await db.execute(sql`
    INSERT INTO system_metrics (host, resolution_s, ts, metric, min, max, last, avg)
    SELECT host, ${ROLLUP_S}, date_trunc('minute', ts) AS minute, metric,
           min(min), max(max), (array_agg(last ORDER BY ts DESC))[1], avg(avg)
    FROM system_metrics
    WHERE resolution_s = 0
      AND ts >= date_trunc('minute', to_timestamp(${now / 1000})) - make_interval(mins => ${lookbackMin})
      AND ts < date_trunc('minute', to_timestamp(${now / 1000}))
    GROUP BY host, minute, metric
    ON CONFLICT (host, resolution_s, ts, metric) DO UPDATE
      SET min = excluded.min, max = excluded.max, last = excluded.last, avg = excluded.avg`);
}

/** Deletes raw samples older than {@link RAW_KEEP_MS} and roll-ups older than `retentionH` hours. */
export async function pruneSystemMetrics(db: Db, now: number, retentionH: number): Promise<void> {
  await db.execute(sql`DELETE FROM system_metrics WHERE resolution_s = 0 AND ts < to_timestamp(${(now - RAW_KEEP_MS) / 1000})`);
  await db.execute(sql`DELETE FROM system_metrics WHERE resolution_s = ${ROLLUP_S} AND ts < to_timestamp(${(now - retentionH * 3600_000) / 1000})`);
}

/** Hosts with any stored history (a loose index scan over the primary key). */
export async function listSystemHosts(db: Db): Promise<string[]> {
  const { rows } = await db.execute<{ host: string }>(sql`
    WITH RECURSIVE h AS (
      SELECT min(host) AS host FROM system_metrics
      UNION ALL
      SELECT (SELECT min(host) FROM system_metrics WHERE host > h.host) FROM h WHERE h.host IS NOT NULL
    )
    SELECT host FROM h WHERE host IS NOT NULL`);
  return rows.map((r) => r.host);
}

/**
 * Parses a metric filter such as `cpu.*,mem.used` into exact names and LIKE
 * prefixes. Returns undefined for "all metrics".
 */
export function parseMetricFilter(filter: string | undefined): { exact: string[]; like: string[] } | undefined {
  if (!filter) return undefined;
  const exact: string[] = [];
  const like: string[] = [];
  for (const raw of filter.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    if (name.endsWith('*')) like.push(name.slice(0, -1).replace(/[\\%_]/g, (c) => '\\' + c) + '%');
    else exact.push(name);
  }
  return exact.length || like.length ? { exact, like } : undefined;
}

export interface HistoryQuery {
  /** null: `defaultHost` when it has history, else the first host */
  host: string | null;
  defaultHost: string;
  window: SystemWindow;
  windowMs: number;
  /** most buckets per series */
  points: number;
  metrics?: string;
  /** ms since epoch: the end of the window */
  now: number;
}

type BucketRow = {
  metric: string;
  /** ms since epoch */
  t: number;
  mn: number;
  mx: number;
  lst: number;
  /** [ms since epoch, value] of the bucket's oldest point */
  first: number[];
};

/**
 * Reads a host's history for a window, downsampled to at most `points`
 * buckets (plus the first stored point) per metric.
 */
export async function querySystemMetrics(db: Db, q: HistoryQuery): Promise<SystemMetrics> {
  const hosts = await listSystemHosts(db);
  const host = q.host ?? (hosts.includes(q.defaultHost) ? q.defaultHost : (hosts[0] ?? null));
  const from = q.now - q.windowMs;
  const useRollups = q.windowMs > RAW_KEEP_MS;
  const sourceResolutionS = useRollups ? ROLLUP_S : 0;
  const bucketMs = Math.max(Math.ceil(q.windowMs / q.points), useRollups ? ROLLUP_S * 1000 : 1000);
  const empty: SystemMetrics = { host, hosts, window: q.window, from, to: q.now, bucketMs, sourceResolutionS, series: {}, gpus: [] };
  if (host === null || !hosts.includes(host)) return empty;

  const filter = parseMetricFilter(q.metrics);
  const metricCond = filter
    ? sql`AND (metric = ANY(${sql.param(filter.exact)}::text[]) OR metric LIKE ANY(${sql.param(filter.like)}::text[]))`
    : sql``;
  const fromTs = sql`to_timestamp(${from / 1000})`;
  const toTs = sql`to_timestamp(${q.now / 1000})`;
  // Roll-ups cover complete minutes up to a minute ago; raw samples fill the rest.
  const cutoff = sql`(date_trunc('minute', ${toTs}) - interval '1 minute')`;
  const source = useRollups
    ? sql`
      SELECT metric, ts, min, max, last FROM system_metrics
      WHERE host = ${host} AND resolution_s = ${ROLLUP_S} AND ts >= ${fromTs} AND ts < ${cutoff} ${metricCond}
      UNION ALL
      SELECT metric, ts, min, max, last FROM system_metrics
      WHERE host = ${host} AND resolution_s = 0 AND ts >= greatest(${cutoff}, ${fromTs}) AND ts <= ${toTs} ${metricCond}`
    : sql`
      SELECT metric, ts, min, max, last FROM system_metrics
      WHERE host = ${host} AND resolution_s = 0 AND ts >= ${fromTs} AND ts <= ${toTs} ${metricCond}`;

  // One pass: per (metric, bucket) the extremes, the newest point (the max of
  // [epoch, value] pairs, cheaper than sorting) and the oldest point (kept for
  // the series' first bucket).
  const { rows } = await db.execute<BucketRow>(sql`
    SELECT metric,
           (extract(epoch FROM max(ts)) * 1000)::float8 AS t,
           min(min) AS mn, max(max) AS mx,
           (max(ARRAY[extract(epoch FROM ts)::float8, last]))[2] AS lst,
           min(ARRAY[extract(epoch FROM ts)::float8 * 1000, last]) AS first
    FROM (${source}) AS src
    GROUP BY metric, floor(extract(epoch FROM ts)::float8 * 1000 / ${bucketMs})
    ORDER BY metric, t`);

  const series: Record<string, Series> = {};
  for (const row of rows) {
    const t = Number(row.t);
    let s = series[row.metric];
    if (!s) {
      series[row.metric] = s = { t: [], min: [], max: [], last: [] };
      // The series' first point is its own entry unless its bucket holds nothing else.
      const [t0, v0] = row.first.map(Number) as [number, number];
      if (t0 !== t) {
        s.t.push(t0);
        s.min.push(v0);
        s.max.push(v0);
        s.last.push(v0);
      }
    }
    s.t.push(t);
    s.min.push(Number(row.mn));
    s.max.push(Number(row.mx));
    s.last.push(Number(row.lst));
  }
  const gpus = new Set<number>();
  for (const metric of Object.keys(series)) {
    const m = /^gpu\.(\d+)\./.exec(metric);
    if (m) gpus.add(Number(m[1]));
  }
  return {
    ...empty,
    series,
    gpus: [...gpus].sort((a, b) => a - b).map((index) => ({ index, name: `GPU ${index}` })),
  };
}
