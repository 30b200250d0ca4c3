import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Series } from '../../models/contracts/api.ts';
import { createTestDatabase, type TestDatabase } from '../../scripts/testing/db.ts';
import { insertSystemPoints, parseMetricFilter, pruneSystemMetrics, querySystemMetrics, rollupSystemMetrics, RAW_KEEP_MS } from './system.ts';

interface Pt {
  t: number;
  min: number;
  max: number;
  last: number;
}

/** Independent downsampling: epoch-aligned buckets, min/max/last, entry time = last point, plus the first point. */
function expected(points: Pt[], bucketMs: number): Series {
  const sorted = [...points].sort((a, b) => a.t - b.t);
  const out: Series = { t: [], min: [], max: [], last: [] };
  const first = sorted[0]!;
  const buckets = new Map<number, Pt[]>();
  for (const p of sorted) {
    const b = Math.floor(p.t / bucketMs);
    if (!buckets.has(b)) buckets.set(b, []);
    buckets.get(b)!.push(p);
  }
  out.t.push(first.t);
  out.min.push(first.last);
  out.max.push(first.last);
  out.last.push(first.last);
  for (const [, ps] of [...buckets].sort((a, b) => a[0] - b[0])) {
    const end = ps[ps.length - 1]!;
    if (ps.length === 1 && end.t === first.t) continue;
    out.t.push(end.t);
    out.min.push(Math.min(...ps.map((p) => p.min)));
    out.max.push(Math.max(...ps.map((p) => p.max)));
    out.last.push(end.last);
  }
  return out;
}

// A deterministic, jumpy signal so min, max and last of a bucket all differ.
const signal = (i: number) => ((i * 7919) % 1000) / 10;

describe('system metric history', () => {
  let db: TestDatabase;
  const now = Date.UTC(2026, 10, 23, 12, 0, 30);
  const step = 2000;
  const host = 'gpu-host-1';
  const raw: Pt[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('loupe_sysmetrics');
    // 3 hours of samples every 2 s for two metrics (and an unrelated host).
    for (let i = 0; i < (3 * 3600_000) / step; i++) {
      const t = now - 3 * 3600_000 + (i + 1) * step;
      raw.push({ t, min: signal(i), max: signal(i), last: signal(i) });
    }
    const chunk = 500;
    for (let i = 0; i < raw.length; i += chunk) {
      await Promise.all(
        raw.slice(i, i + chunk).map((p, j) =>
          insertSystemPoints(db.db, host, p.t, [
            { metric: 'cpu.total', value: p.last },
            { metric: 'cpu.core.0', value: 100 - p.last },
            { metric: 'mem_used', value: (i + j) * 1024 },
          ]),
        ),
      );
    }
    await insertSystemPoints(db.db, 'other-host', now - 1000, [{ metric: 'cpu.total', value: 1 }]);
  }, 120_000);
  afterAll(() => db.drop());

  it('downsamples the 1 h window into epoch-aligned min/max/last buckets, keeping the first and last points', async () => {
    const res = await querySystemMetrics(db.db, { host, defaultHost: 'x', window: '1h', windowMs: 3600_000, points: 100, now });
    expect(res.hosts).toEqual(['gpu-host-1', 'other-host']);
    expect(res.bucketMs).toBe(36_000);
    expect(res.sourceResolutionS).toBe(0);
    const inWindow = raw.filter((p) => p.t >= now - 3600_000 && p.t <= now);
    const want = expected(inWindow, 36_000);
    const got = res.series['cpu.total']!;
    expect(got).toEqual(want);
    expect(got.t.length).toBeLessThanOrEqual(102);
    expect(got.t[0]).toBe(inWindow[0]!.t);
    expect(got.t.at(-1)).toBe(inWindow.at(-1)!.t);
    expect(got.last.at(-1)).toBe(inWindow.at(-1)!.last);
    // every raw extreme survives downsampling
    expect(Math.max(...got.max)).toBe(Math.max(...inWindow.map((p) => p.max)));
    expect(Math.min(...got.min)).toBe(Math.min(...inWindow.map((p) => p.min)));
  });

  it('is deterministic and filters metrics by name and prefix', async () => {
    const q = { host, defaultHost: 'x', window: '15m' as const, windowMs: 900_000, points: 50, now, metrics: 'cpu.*' };
    const a = await querySystemMetrics(db.db, q);
    const b = await querySystemMetrics(db.db, q);
    expect(a).toEqual(b);
    expect(Object.keys(a.series).sort()).toEqual(['cpu.core.0', 'cpu.total']);
    const exact = await querySystemMetrics(db.db, { ...q, metrics: 'mem_used' });
    expect(Object.keys(exact.series)).toEqual(['mem_used']);
    // `_` is not a LIKE wildcard here: "mem_*" must not match "memXused"
    expect(parseMetricFilter('mem_*,cpu.total')).toEqual({ exact: ['cpu.total'], like: ['mem\\_%'] });
  });

  it('answers long windows from one-minute roll-ups plus the newest raw samples', async () => {
    await rollupSystemMetrics(db.db, now, 4 * 60);
    const res = await querySystemMetrics(db.db, { host, defaultHost: host, window: '24h', windowMs: 24 * 3600_000, points: 300, now });
    expect(res.host).toBe(host);
    expect(res.sourceResolutionS).toBe(60);
    expect(res.bucketMs).toBe(288_000);
    // Independent roll-up: per whole minute before the cutoff, then raw points.
    const cutoff = Math.floor(now / 60_000) * 60_000 - 60_000;
    const minutes = new Map<number, Pt[]>();
    for (const p of raw.filter((p) => p.t < cutoff)) {
      const m = Math.floor(p.t / 60_000) * 60_000;
      if (!minutes.has(m)) minutes.set(m, []);
      minutes.get(m)!.push(p);
    }
    const source: Pt[] = [...minutes].map(([m, ps]) => ({ t: m, min: Math.min(...ps.map((p) => p.min)), max: Math.max(...ps.map((p) => p.max)), last: ps.at(-1)!.last }));
    source.push(...raw.filter((p) => p.t >= cutoff && p.t <= now));
    expect(res.series['cpu.total']).toEqual(expected(source, 288_000));
  });

  it('picks the default host, and prunes raw samples past their keep time', async () => {
    const res = await querySystemMetrics(db.db, { host: null, defaultHost: 'not-there', window: '15m', windowMs: 900_000, points: 50, now });
    expect(res.host).toBe('gpu-host-1');
    await pruneSystemMetrics(db.db, now, 48);
    const { rows } = await db.pool.query(`SELECT min(ts) AS oldest FROM system_metrics WHERE resolution_s = 0 AND host = $1`, [host]);
    expect((rows[0].oldest as Date).getTime()).toBeGreaterThanOrEqual(now - RAW_KEEP_MS);
    const rollups = await db.pool.query(`SELECT count(*)::int AS n FROM system_metrics WHERE resolution_s = 60`);
    expect(rollups.rows[0].n).toBeGreaterThan(0);
  });
});
