/**
 * Models: `POST /api/models` (download from a hub or import a folder, through
 * a `model.download` job), `GET /api/models`, `GET /api/models/{id}`,
 * `DELETE /api/models/{id}`.
 */
import { createRoute } from '@hono/zod-openapi';
import { architectureSchema, createdModelSchema, createModelSchema, modelIdParamSchema, modelListSchema, modelSchema, type ModelSource } from '../../models/contracts/api.ts';
import { UnsupportedArchitectureError } from '../../models/architectures/index.ts';
import { ModelFormatError } from '../../models/architectures/limits.ts';
import { validateRepoId } from '../../models/hub.ts';
import { deleteModel, getModel, insertModel, listModels } from '../../db/queries/models.ts';
import { cancelUnfinishedJob, removeExtractionsOf } from '../artifacts/index.ts';
import { DOWNLOAD, queueDownload, toModel } from '../artifacts/models.ts';
import { AppError } from '../errors.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import type { App } from '../app.ts';

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/models',
  summary: 'Adds a model from a hub repository or a local folder; a `model.download` job fetches its files',
  request: { body: jsonBody(createModelSchema) },
  responses: {
    202: json('The queued model and its job', createdModelSchema),
    400: error('Invalid body (the details name the field), or a local folder whose config.json or weights Loupe refuses (`source.path`)'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/models',
  summary: 'Every model: the default (built-in demo) model first, then newest first',
  responses: { 200: json('Models', modelListSchema) },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/models/{id}',
  summary: 'One model, with its download progress',
  request: { params: modelIdParamSchema },
  responses: {
    200: json('The model', modelSchema),
    400: error('Invalid id'),
    404: error('No such model'),
  },
});

const architectureRouteDef = createRoute({
  method: 'get',
  path: '/api/models/{id}/architecture',
  summary: 'Layers, parameter counts, weight bytes per dtype and every hook point with its shape',
  request: { params: modelIdParamSchema },
  responses: {
    200: json('The architecture', architectureSchema),
    400: error('Invalid id'),
    404: error('No such model'),
    409: error('The model has no files yet (download not completed) or they cannot be read'),
    422: error('The model\'s config.json is out of bounds, or its weights do not match it (`invalid_model`)'),
  },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/models/{id}',
  summary: 'Deletes a model and its files, cancelling its download when it runs',
  request: { params: modelIdParamSchema },
  responses: {
    204: { description: 'Deleted' },
    400: error('Invalid id'),
    404: error('No such model'),
    409: error('A built-in model cannot be deleted'),
  },
});

/** The display name of a source: the repository's or the folder's last part. */
function defaultName(source: ModelSource): string {
  const raw = source.kind === 'hub' ? source.repo : source.path.replace(/[\\/]+$/, '');
  return raw.split(/[\\/]/).pop() || raw;
}

export function registerModelRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    let source = body.source;
    if (source.kind === 'hub') {
      try {
        source = { ...source, repo: validateRepoId(source.repo) };
      } catch (err) {
        throw fieldError('source.repo', err instanceof Error ? err.message : String(err));
      }
    } else {
      const problem = await deps.storage.checkLocalFolder(source.path);
      if (problem) throw fieldError('source.path', problem);
      // config bounds, safetensors headers and the tensors the architecture reads (headers only): a bad model is refused here, not registered
      await deps.storage.inspect(source.path).catch((err: unknown) => {
        throw fieldError('source.path', err instanceof Error ? err.message : String(err));
      });
    }
    const row = await insertModel(deps.db, { name: body.name ?? defaultName(source), source, dtype: body.dtype, path: null });
    const { model, jobId } = await queueDownload(deps, row);
    return c.json({ model: toModel(model), job: { id: jobId, kind: DOWNLOAD } }, 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const rows = await listModels(c.get('deps').db);
    return c.json({ models: rows.map(toModel) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getModel(c.get('deps').db, id);
    if (!row) throw notFound('model', id);
    return c.json(toModel(row), 200);
  });

  app.openapi(architectureRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getModel(deps.db, id);
    if (!row) throw notFound('model', id);
    if (row.status !== 'completed' || !row.path) throw new AppError('not_ready', 409, `${row.name} is ${row.status}: its architecture is known once its files are in`, { field: 'id', status: row.status });
    try {
      return c.json(await deps.storage.inspect(row.path), 200);
    } catch (err) {
      const message = `${row.name}: ${err instanceof Error ? err.message : String(err)}`;
      // a config out of bounds or weights that do not match it: the model itself is wrong, on every request
      if (err instanceof ModelFormatError || err instanceof UnsupportedArchitectureError) throw new AppError('invalid_model', 422, message, [{ field: 'id', message }]);
      throw new AppError('unreadable', 409, message, { field: 'id' });
    }
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getModel(deps.db, id);
    if (!row) throw notFound('model', id);
    if (row.builtin) throw new AppError('conflict', 409, `${row.name} is built in and cannot be deleted`, { field: 'id' });
    await cancelUnfinishedJob(deps, row.jobId);
    await removeExtractionsOf(deps, { modelId: id });
    await deleteModel(deps.db, id);
    // The worker also removes the folder when its cancelled download stops, in case it wrote after this.
    await deps.storage.removeModel(id);
    return c.body(null, 204);
  });
}
