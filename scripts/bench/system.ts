/**
 * Latency of `GET /api/system/metrics` over a day of history of one host with
 * 16 cores and 2 GPUs (~50 metrics): raw samples every 2 s for the last 2 h and
 * one-minute roll-ups for 24 h, in a fresh embedded PostgreSQL.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WINDOW_MS, SYSTEM_WINDOWS } from '../../models/contracts/api.ts';
import { openDatabase } from '../../db/client.ts';
import { startEmbeddedPostgres } from '../../db/postgres.ts';
import { runMigrations } from '../../db/migrate.ts';
import { insertSystemPoints, querySystemMetrics, rollupSystemMetrics } from '../../db/queries/system.ts';
import { freePort } from '../testing/ports.ts';

export async function run(_args: string[]): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
  chmodSync(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), logFile: path.join(dir, 'pg.log') });
  try {
    await runMigrations(pg.url);
    const database = openDatabase(pg.url);
    const host = 'bench-host';
    const metrics = [
      'cpu.total', 'load.1', 'load.5', 'load.15', 'mem.used', 'mem.total', 'swap.used', 'swap.total',
      'disk.used', 'disk.total', 'disk.read_bps', 'disk.write_bps', 'net.rx_bps', 'net.tx_bps',
      ...Array.from({ length: 16 }, (_, i) => `cpu.core.${i}`),
      ...[0, 1].flatMap((g) => ['util', 'mem_used', 'mem_total', 'temp', 'power', 'sm_clock', 'mem_clock'].map((f) => `gpu.${g}.${f}`)),
    ];
    const now = Date.now();
    // 24 h at 2 s is 43,200 samples; store all as raw, roll them up, then keep raw only for the last 2 h as the pruner would.
    const t0 = performance.now();
    const samples = (24 * 3600_000) / 2000;
    for (let i = 0; i < samples; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, samples - i) }, (_, j) => {
          const ts = now - (samples - (i + j)) * 2000;
          return insertSystemPoints(database.db, host, ts, metrics.map((metric, k) => ({ metric, value: Math.abs(Math.sin((i + j) / 50 + k)) * 100 })));
        }),
      );
    }
    await rollupSystemMetrics(database.db, now, 24 * 60 + 5);
    await database.pool.query(`DELETE FROM system_metrics WHERE resolution_s = 0 AND ts < now() - interval '2 hours'`);
    await database.pool.query('VACUUM ANALYZE system_metrics');
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM system_metrics');
    console.log(JSON.stringify({ case: 'system-history-fill', rows: rows[0].n, metrics: metrics.length, seconds: +((performance.now() - t0) / 1000).toFixed(1) }));

    for (const window of SYSTEM_WINDOWS) {
      for (const filter of [undefined, 'cpu.total']) {
        const times: number[] = [];
        let points = 0;
        for (let r = 0; r < 12; r++) {
          const s = performance.now();
          const res = await querySystemMetrics(database.db, { host, defaultHost: host, window, windowMs: WINDOW_MS[window], points: 300, now: Date.now(), metrics: filter });
          times.push(performance.now() - s);
          points = Object.values(res.series).reduce((n, x) => n + x.t.length, 0);
        }
        times.sort((a, b) => a - b);
        console.log(JSON.stringify({ case: 'system-history-query', window, metrics: filter ?? 'all', impl: 'loupe', median_ms: +times[6]!.toFixed(1), p90_ms: +times[10]!.toFixed(1), points }));
      }
    }
    await database.close();
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
