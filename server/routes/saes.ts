/**
 * SAEs: `GET /api/saes`, `GET /api/saes/{id}`, `DELETE /api/saes/{id}`,
 * `POST /api/saes/import` (register a SAELens folder the server can read: it
 * is checked and copied into DATA_DIR/saes/imported/<id>/), and
 * `GET /api/saes/{id}/files/{name}` (cfg.json or sae_weights.safetensors, for
 * `loupe sae export` and any SAELens user), and `POST /api/saes/{id}/encode`
 * (text or token ids → each token's largest active features, computed by a
 * `features.analyze` job and cached: server/artifacts/encode.ts), and
 * `PATCH /api/saes/{id}` (rename; make it its family's active SAE). Families
 * themselves are server/routes/sae-families.ts.
 */
import { createRoute } from '@hono/zod-openapi';
import { encodeRequestSchema, encodeResponseSchema } from '../../models/contracts/encode.ts';
import { analysisPendingSchema } from '../../models/contracts/features.ts';
import { importSaeSchema, saeFileParamSchema, saeIdParamSchema, saeListQuerySchema, saeListSchema, saePatchSchema, saeSchema } from '../../models/contracts/trainings.ts';
import { getModel } from '../../db/queries/models.ts';
import { deleteSae, getSae, insertSae, listSaes, renameSae, setActiveSae } from '../../db/queries/saes.ts';
import { encodeWithSae } from '../artifacts/encode.ts';
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

const patchRouteDef = createRoute({
  method: 'patch',
  path: '/api/saes/{id}',
  summary: "Renames an SAE and/or makes it its family's active SAE (`active: true`): the one the Features page, the inspector and `sae=<family id>` use by default",
  request: { params: saeIdParamSchema, body: jsonBody(saePatchSchema) },
  responses: { 200: json('The SAE as it is now', saeSchema), 400: error('Invalid id or body (the details name the field)'), 404: error('No such SAE') },
});

const encodeRouteDef = createRoute({
  method: 'post',
  path: '/api/saes/{id}/encode',
  summary:
    "Runs `text` (tokenized with the model's tokenizer) or `ids` through the SAE's model up to its hook and through its encoder: per token, its `topK` (default 10, at most d_sae) largest active features, in descending order. A BOS is run first when the SAE's cfg.json says its activations were recorded so (`prepend_bos`); it counts towards the model's context but is not listed (`addedBos` says). Cached like the feature analyses",
  request: { params: saeIdParamSchema, body: jsonBody(encodeRequestSchema) },
  responses: {
    200: json('Per token, its largest active features, computed now or cached', encodeResponseSchema),
    202: json('Still computing: send the same request again', analysisPendingSchema),
    400: error("Invalid body (the details name the field): neither or both of text and ids, ids outside the model's vocabulary, more tokens than the model's context, topK above d_sae"),
    404: error('No such SAE'),
    409: error("The SAE has no model to run, its model cannot be read or lacks the SAE's hook point"),
    500: error('The encode failed: the reason when it is one you can act on, else a generic message with the job id (the details are in the worker log)'),
    503: error('The job could not be queued; try again'),
  },
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
    }, body.purpose).catch(async (err: unknown) => {
      await deps.saes.remove(copied.path);
      throw err;
    });
    return c.json(toSae(row), 201);
  });

  app.openapi(patchRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.get('deps').db;
    if (!(await getSae(db, id))) throw notFound('SAE', id);
    if (body.name !== undefined) await renameSae(db, id, body.name);
    if (body.active && !(await setActiveSae(db, id))) throw fieldError('active', 'this SAE belongs to no family');
    return c.json(toSae((await getSae(db, id))!), 200);
  });

  app.openapi(encodeRouteDef, async (c) => {
    const r = await encodeWithSae(c.get('deps'), c.req.valid('param').id, c.req.valid('json'));
    return 'jobId' in r ? c.json(r, 202) : c.json(r, 200);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getSae(deps.db, id);
    if (!row) throw notFound('SAE', id);
    await removeDiscoveriesOf(deps, id);
    await deleteSae(deps.db, id);
    await deps.saes.remove(row.path);
    await deps.inspector.remove(id);
    return c.body(null, 204);
  });
}
