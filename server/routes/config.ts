/** `GET /api/config`: what the web app needs to know about this server. */
import { createRoute } from '@hono/zod-openapi';
import { configSchema } from '../../models/contracts/api.ts';
import { json } from '../responses.ts';
import type { App } from '../app.ts';

const route = createRoute({
  method: 'get',
  path: '/api/config',
  summary: 'Version, WebSocket URL and sampling interval',
  responses: { 200: json('Public configuration', configSchema) },
});

export function registerConfigRoutes(app: App): void {
  app.openapi(route, (c) => c.json(c.get('deps').publicConfig(new URL(c.req.url)), 200));
}
