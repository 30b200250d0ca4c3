/**
 * Models: `POST /api/models` (download from a hub or import a folder, through
 * a `model.download` job), `GET /api/models`, `GET /api/models/{id}`,
 * `DELETE /api/models/{id}`.
 */
import { createRoute } from '@hono/zod-openapi';
import {
  architectureSchema,
  createdModelSchema,
  createModelSchema,
  errorBodySchema,
  modelIdParamSchema,
  modelListSchema,
  modelSchema,
  type Model,
  type ModelSource,
} from '../../models/contracts/api.ts';
import { JOB_QUEUES } from '../../models/contracts/jobs.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';
import { UnsupportedArchitectureError } from '../../models/architectures/index.ts';
import { ModelFormatError } from '../../models/architectures/limits.ts';
import { validateRepoId } from '../../models/hub.ts';
import type { Events } from '../../db/events.ts';
import { getJob, isFinished } from '../../db/queries/jobs.ts';
import { deleteModel, getModel, insertModel, listModels, setModelJob, type ModelRow } from '../../db/queries/models.ts';
import { AppError } from '../errors.ts';
import type { App } from '../app.ts';
import { removeExtractionsOf } from './extractions.ts';
import { cancelJob } from './jobs.ts';

const DOWNLOAD = 'model.download' satisfies keyof typeof JOB_QUEUES;

const error = (description: string) => ({ description, content: { 'application/json': { schema: errorBodySchema } } });

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/models',
  summary: 'Adds a model from a hub repository or a local folder; a `model.download` job fetches its files',
  request: { body: { required: true, content: { 'application/json': { schema: createModelSchema } } } },
  responses: {
    202: { description: 'The queued model and its job', content: { 'application/json': { schema: createdModelSchema } } },
    400: error('Invalid body (the details name the field), or a local folder whose config.json or weights Loupe refuses (`source.path`)'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/models',
  summary: 'Every model: the default (built-in demo) model first, then newest first',
  responses: { 200: { description: 'Models', content: { 'application/json': { schema: modelListSchema } } } },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/models/{id}',
  summary: 'One model, with its download progress',
  request: { params: modelIdParamSchema },
  responses: {
    200: { description: 'The model', content: { 'application/json': { schema: modelSchema } } },
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
    200: { description: 'The architecture', content: { 'application/json': { schema: architectureSchema } } },
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

/** The API's view of a row. */
export function toModel(r: ModelRow): Model {
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    status: r.status,
    architecture: r.architecture,
    dtype: r.dtype,
    sizeBytes: r.sizeBytes,
    progress: r.progress,
    error: r.error,
    builtin: r.builtin,
    default: r.builtin,
    jobId: r.jobId,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Publishes a model's status on `model/{id}` (its last progress with the new status), for a change made outside its job. */
export async function publishModelStatus(events: Events, m: ModelRow): Promise<void> {
  const base: ModelProgress = m.progress ?? { id: m.id, status: m.status, files: [], bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, etaSeconds: null, error: null, ts: Date.now() };
  await events.publish(`model/${m.id}`, { ...base, status: m.status, bytesPerSecond: 0, etaSeconds: null, error: m.error, ts: Date.now() });
}

/** A 400 naming one field, in the shape of the validation errors. */
function fieldError(field: string, message: string): AppError {
  return new AppError('invalid_request', 400, `Invalid request body: ${field}: ${message}`, [{ field, message }]);
}

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
    let jobId: string | null;
    try {
      jobId = await deps.boss.send(DOWNLOAD, { modelId: row.id }, { ...JOB_QUEUES[DOWNLOAD] });
      if (!jobId) throw new Error('pg-boss did not create the job');
    } catch (err) {
      await deleteModel(deps.db, row.id);
      throw new AppError('queue_unavailable', 503, 'Could not queue the download job; try again', undefined, { cause: err });
    }
    const model = (await setModelJob(deps.db, row.id, jobId)) ?? row;
    return c.json({ model: toModel(model), job: { id: jobId, kind: DOWNLOAD } }, 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const rows = await listModels(c.get('deps').db);
    return c.json({ models: rows.map(toModel) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getModel(c.get('deps').db, id);
    if (!row) throw new AppError('not_found', 404, `No model ${id}`, { field: 'id' });
    return c.json(toModel(row), 200);
  });

  app.openapi(architectureRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getModel(deps.db, id);
    if (!row) throw new AppError('not_found', 404, `No model ${id}`, { field: 'id' });
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
    if (!row) throw new AppError('not_found', 404, `No model ${id}`, { field: 'id' });
    if (row.builtin) throw new AppError('conflict', 409, `${row.name} is built in and cannot be deleted`, { field: 'id' });
    if (row.jobId) {
      const job = await getJob(deps.db, row.jobId);
      if (job && !isFinished(job.state)) await cancelJob(deps, job.kind, job.id);
    }
    await removeExtractionsOf(deps, { modelId: id });
    await deleteModel(deps.db, id);
    // The worker also removes the folder when its cancelled download stops, in case it wrote after this.
    await deps.storage.removeModel(id);
    return c.body(null, 204);
  });
}
