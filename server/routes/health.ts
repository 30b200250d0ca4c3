/** `GET /api/health`: database, job queue, live workers and the WebGPU adapters they found. */
import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { healthSchema, type Health } from '../../models/contracts/api.ts';
import { POLICY } from '../../models/config.ts';
import { isQueryError, queryErrorMessage, sqlState } from '../../db/errors.ts';
import { isDatabaseUnavailable, unavailableReason } from '../../db/outage.ts';
import { listActiveWorkers } from '../../db/queries/workers.ts';
import { json } from '../responses.ts';
import type { App } from '../app.ts';

const route = createRoute({
  method: 'get',
  path: '/api/health',
  summary: 'Health of the database, the job queue and the workers seen in the last 30 s, with their devices and WebGPU adapters',
  responses: {
    200: json('Health report (status "degraded" when the queue is not installed or no worker beats)', healthSchema),
    503: json('The database cannot be reached (status "unavailable"); the same report, with a Retry-After header', healthSchema),
  },
});

/** A failed check in words: why the database is unreachable, or PostgreSQL's message and SQLSTATE; never the SQL. */
function failure(err: unknown): string {
  if (isDatabaseUnavailable(err)) return `unreachable: ${unavailableReason(err)}`;
  return isQueryError(err) ? queryErrorMessage(err) : 'the check failed';
}

export function registerHealthRoutes(app: App): void {
  app.openapi(route, async (c) => {
    const { db, version, startedAt } = c.get('deps');
    const t0 = performance.now();
    const database: Health['database'] = await db.execute(sql`SELECT 1`).then(
      () => ({ ok: true, latencyMs: Math.round((performance.now() - t0) * 100) / 100 }),
      (err) => ({ ok: false, latencyMs: null, error: failure(err) }),
    );
    // Nothing is known of the queue and the workers while the database is down: no hint about installing pg-boss then.
    const queue: Health['queue'] = !database.ok
      ? { ok: false, version: null, error: 'unknown: the database cannot be reached' }
      : await db.execute<{ version: number }>(sql`SELECT version FROM pgboss.version`).then(
          ({ rows }) => ({ ok: rows.length > 0, version: rows[0]?.version ?? null, ...(rows.length ? {} : { error: 'pg-boss schema has no version row' }) }),
          (err) => ({
            ok: false,
            version: null,
            // 3F000 no such schema, 42P01 no such table: the queue is not installed yet
            error: sqlState(err) === '3F000' || sqlState(err) === '42P01' ? 'pg-boss is not installed in this database yet: start a worker (npm run worker)' : failure(err),
          }),
        );
    const list = database.ok ? await listActiveWorkers(db, POLICY.WORKER_SEEN_WINDOW_MS).catch(() => []) : [];
    const workers = list.map((w) => ({
      id: w.id,
      host: w.host,
      pid: w.pid,
      startedAt: w.startedAt,
      lastSeen: w.lastSeen,
      concurrency: w.concurrency,
      device: w.device ?? null,
      adapters: w.adapters?.adapters ?? null,
      adaptersNote: w.adapters?.note ?? null,
    }));
    // one entry per adapter, however many workers (on however many hosts) found it
    const adapters = [...new Map(workers.flatMap((w) => w.adapters ?? []).map((a) => [JSON.stringify([a.name, a.vendor, a.architecture, a.fallback]), a])).values()];
    const body: Health = {
      status: !database.ok ? 'unavailable' : queue.ok && list.length > 0 ? 'ok' : 'degraded',
      version,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      database,
      queue,
      workers: { active: list.length, list: workers },
      adapters,
    };
    if (!database.ok) {
      c.header('Retry-After', '5');
      return c.json(body, 503);
    }
    return c.json(body, 200);
  });
}
