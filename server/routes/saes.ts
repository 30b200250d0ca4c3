/**
 * SAEs: `GET /api/saes`, `GET /api/saes/{id}`, `DELETE /api/saes/{id}`,
 * `POST /api/saes/import` (register a SAELens folder the server can read: it
 * is checked and copied into DATA_DIR/saes/imported/<id>/), and
 * `GET /api/saes/{id}/files/{name}` (cfg.json or sae_weights.safetensors, for
 * `loupe sae export` and any SAELens user).
 */
import { createRoute } from '@hono/zod-openapi';
import { importSaeSchema, saeFileParamSchema, saeIdParamSchema, saeListQuerySchema, saeListSchema, saeSchema } from '../../models/contracts/trainings.ts';
import { getModel } from '../../db/queries/models.ts';
import { deleteSae, getSae, insertSae, listSaes } from '../../db/queries/saes.ts';
import { removeDiscoveriesOf } from '../artifacts/index.ts';
import { toSae } from '../artifacts/saes.ts';
import { AppError } from '../errors.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import type { App } from '../app.ts';

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/saes',
  summary: 'SAEs, newest first, trained here or imported; filtered by training, model or hook point',
  request: { query: saeListQuerySchema },
  responses: { 200: json('SAEs', saeListSchema), 400: error('Invalid query') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/saes/{id}',
  summary: 'One SAE: architecture, sizes, its SAELens cfg.json, final metrics and folder',
  request: { params: saeIdParamSchema },
  responses: { 200: json('The SAE', saeSchema), 400: error('Invalid id'), 404: error('No such SAE') },
});

const fileRouteDef = createRoute({
  method: 'get',
  path: '/api/saes/{id}/files/{name}',
  summary: 'A file of the SAE\'s SAELens folder: cfg.json or sae_weights.safetensors',
  request: { params: saeFileParamSchema },
  responses: {
    200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    400: error('Invalid id or file name'),
    404: error('No such SAE, or its file is missing'),
  },
});

const importRouteDef = createRoute({
  method: 'post',
  path: '/api/saes/import',
  summary: 'Registers a SAELens folder (cfg.json of SAELens 5 or 6 + sae_weights.safetensors) that the server can read: it is checked and copied under DATA_DIR/saes',
  request: { body: jsonBody(importSaeSchema) },
  responses: { 201: json('The SAE', saeSchema), 400: error('Invalid body, or not a SAELens folder (the details name the field)') },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/saes/{id}',
  summary: 'Deletes an SAE, its features, its discoveries (cancelling the queued and running ones; their staging folders under DATA_DIR/discoveries go) and its folder under DATA_DIR/saes',
  request: { params: saeIdParamSchema },
  responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such SAE') },
});

export function registerSaeRoutes(app: App): void {
  app.openapi(listRouteDef, async (c) => {
    const q = c.req.valid('query');
    return c.json({ saes: (await listSaes(c.get('deps').db, q)).map(toSae) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getSae(c.get('deps').db, id);
    if (!row) throw notFound('SAE', id);
    return c.json(toSae(row), 200);
  });

  app.openapi(fileRouteDef, async (c) => {
    const { id, name } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getSae(deps.db, id);
    if (!row) throw notFound('SAE', id);
    const file = await deps.saes.open(row.path, name);
    if (!file) throw new AppError('not_found', 404, `SAE ${id} has no ${name} in ${row.path}`, { field: 'name' });
    return c.body(file.body, 200, {
      'content-type': name === 'cfg.json' ? 'application/json' : 'application/octet-stream',
      'content-length': String(file.bytes),
      'content-disposition': `attachment; filename="${name}"`,
    });
  });

  app.openapi(importRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    if (body.modelId && !(await getModel(deps.db, body.modelId))) throw fieldError('modelId', `no model ${body.modelId}`);
    const id = crypto.randomUUID();
    const copied = await deps.saes.importFolder(body.path, id);
    if ('problem' in copied) throw fieldError('path', copied.problem);
    const { cfg } = copied;
    const row = await insertSae(deps.db, {
      id,
      name: body.name ?? `${cfg.modelName ? `${cfg.modelName} ` : ''}${cfg.hookName} ${cfg.architecture} ${cfg.dSae}`,
      trainingId: null,
      modelId: body.modelId ?? null,
      hookPoint: cfg.hookName,
      architecture: cfg.architecture,
      dIn: cfg.dIn,
      dSae: cfg.dSae,
      cfg: copied.raw,
      metrics: null,
      path: copied.path,
    }).catch(async (err: unknown) => {
      await deps.saes.remove(copied.path);
      throw err;
    });
    return c.json(toSae(row), 201);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getSae(deps.db, id);
    if (!row) throw notFound('SAE', id);
    await removeDiscoveriesOf(deps, id);
    await deleteSae(deps.db, id);
    await deps.saes.remove(row.path);
    return c.body(null, 204);
  });
}
