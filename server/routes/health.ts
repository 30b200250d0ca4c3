/** `GET /api/health`: database, job queue and live workers. */
import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { healthSchema, type Health } from '../../models/contracts/api.ts';
import { POLICY } from '../../models/config.ts';
import { listActiveWorkers } from '../../db/queries/workers.ts';
import type { App } from '../app.ts';

const route = createRoute({
  method: 'get',
  path: '/api/health',
  summary: 'Health of the database, the job queue and the workers seen in the last 30 s',
  responses: { 200: { description: 'Health report (status "degraded" when a part is down)', content: { 'application/json': { schema: healthSchema } } } },
});

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function registerHealthRoutes(app: App): void {
  app.openapi(route, async (c) => {
    const { db, version, startedAt } = c.get('deps');
    const t0 = performance.now();
    const database: Health['database'] = await db.execute(sql`SELECT 1`).then(
      () => ({ ok: true, latencyMs: Math.round((performance.now() - t0) * 100) / 100 }),
      (err) => ({ ok: false, latencyMs: null, error: message(err) }),
    );
    const queue: Health['queue'] = await db.execute<{ version: number }>(sql`SELECT version FROM pgboss.version`).then(
      ({ rows }) => ({ ok: rows.length > 0, version: rows[0]?.version ?? null, ...(rows.length ? {} : { error: 'pg-boss schema has no version row' }) }),
      () => ({ ok: false, version: null, error: 'pg-boss is not installed in this database yet: start a worker (npm run worker)' }),
    );
    const list = database.ok ? await listActiveWorkers(db, POLICY.WORKER_SEEN_WINDOW_MS).catch(() => []) : [];
    const body: Health = {
      status: database.ok && queue.ok && list.length > 0 ? 'ok' : 'degraded',
      version,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      database,
      queue,
      workers: { active: list.length, list: list.map(({ queues: _q, ...w }) => w) },
    };
    return c.json(body, 200);
  });
}
