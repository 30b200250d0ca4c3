/** `GET /api/system/metrics`: downsampled system-monitor history from PostgreSQL. */
import { createRoute } from '@hono/zod-openapi';
import { systemMetricsQuerySchema, systemMetricsSchema, WINDOW_MS } from '../../models/contracts/api.ts';
import { querySystemMetrics } from '../../db/queries/system.ts';
import { AppError } from '../errors.ts';
import { error, json } from '../responses.ts';
import type { App } from '../app.ts';

const route = createRoute({
  method: 'get',
  path: '/api/system/metrics',
  summary: 'System metric history of one host, downsampled to min/max/last per bucket',
  request: { query: systemMetricsQuerySchema },
  responses: {
    200: json('One series per metric', systemMetricsSchema),
    400: error('Invalid query'),
    404: error('No history for that host'),
  },
});

export function registerSystemRoutes(app: App): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid('query');
    const { db, hostname } = c.get('deps');
    const result = await querySystemMetrics(db, {
      host: q.host ?? null,
      defaultHost: hostname,
      window: q.window,
      windowMs: WINDOW_MS[q.window],
      points: q.points,
      metrics: q.metrics,
      now: Date.now(),
    });
    if (q.host !== undefined && !result.hosts.includes(q.host)) {
      throw new AppError('not_found', 404, `No system history for host "${q.host}"`, { field: 'host', hosts: result.hosts });
    }
    return c.json(result, 200);
  });
}
