/**
 * SAE families: `GET /api/sae-families` (every family of SAEs — one model,
 * hook point and purpose — with its versions in creation order and its
 * active SAE) and `GET /api/sae-families/{id}`. A family's active SAE is set
 * with `PATCH /api/saes/{id}` (server/routes/saes.ts); `sae=<family id>`
 * where an SAE is named (the feature list, discoveries, the inspector)
 * means that active SAE.
 */
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { saeFamilyListQuerySchema, saeFamilyListSchema, saeFamilySchema } from '../../models/contracts/trainings.ts';
import { listSaeFamilies } from '../../db/queries/saes.ts';
import { error, json, notFound } from '../responses.ts';
import type { App } from '../app.ts';

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/sae-families',
  summary: 'Families of SAEs (same model, hook point and purpose), newest first, each with its versions v1…vn in creation order and its active SAE',
  request: { query: saeFamilyListQuerySchema },
  responses: { 200: json('Families', saeFamilyListSchema), 400: error('Invalid query') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/sae-families/{id}',
  summary: 'One family of SAEs: its versions and its active SAE',
  request: { params: z.object({ id: z.string().uuid() }) },
  responses: { 200: json('The family', saeFamilySchema), 400: error('Invalid id'), 404: error('No such family') },
});

export function registerSaeFamilyRoutes(app: App): void {
  app.openapi(listRouteDef, async (c) => c.json({ families: await listSaeFamilies(c.get('deps').db, c.req.valid('query')) }, 200));

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const [family] = await listSaeFamilies(c.get('deps').db, { ids: [id] });
    if (!family) throw notFound('SAE family', id);
    return c.json(family, 200);
  });
}
