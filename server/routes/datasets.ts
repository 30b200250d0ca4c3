/**
 * Datasets: `POST /api/datasets` (import a dataset repository from a hub),
 * `POST /api/datasets/upload` (the request body is the file, streamed to disk
 * under a size limit), both tokenized by a `dataset.import` job;
 * `GET /api/datasets`, `GET /api/datasets/{id}`, `GET /api/datasets/{id}/stats`,
 * `GET /api/datasets/{id}/samples`, `DELETE /api/datasets/{id}`.
 */
import { createRoute } from '@hono/zod-openapi';
import {
  createDatasetSchema,
  createdDatasetSchema,
  datasetIdParamSchema,
  datasetListSchema,
  datasetSampleQuerySchema,
  datasetSampleSchema,
  datasetSchema,
  datasetStatsSchema,
  uploadDatasetQuerySchema,
  type DatasetSettings,
} from '../../models/contracts/datasets.ts';
import { DatasetError } from '../../models/datasets/errors.ts';
import { safeUploadName } from '../../models/datasets/upload.ts';
import { validateRepoId } from '../../models/hub.ts';
import { deleteDataset, getDataset, insertDataset, listDatasets, type DatasetRow } from '../../db/queries/datasets.ts';
import { DEMO_MODEL_ID, getModel, type ModelRow } from '../../db/queries/models.ts';
import { IMPORT, queueImport, toDataset } from '../artifacts/datasets.ts';
import { cancelUnfinishedJob, removeExtractionsOf } from '../artifacts/index.ts';
import { AppError } from '../errors.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import type { App, AppDeps } from '../app.ts';

const created = json('The queued dataset and its import job', createdDatasetSchema);

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/datasets',
  summary: 'Imports a dataset repository from the hub: a `dataset.import` job downloads the split\'s files and tokenizes them',
  request: { body: jsonBody(createDatasetSchema) },
  responses: {
    202: created,
    400: error('Invalid body (the details name the field)'),
  },
});

const uploadRouteDef = createRoute({
  method: 'post',
  path: '/api/datasets/upload',
  summary:
    'Uploads a dataset file (.jsonl, .json, .csv, .tsv, .txt, .parquet, a gzipped text file, or a .zip of them) as the raw request body, streamed to disk; a `dataset.import` job tokenizes it',
  request: {
    query: uploadDatasetQuerySchema,
    body: {
      required: true,
      description: 'The file itself (not a multipart form). Its name comes from `?filename=` or `Content-Disposition: attachment; filename="…"`.',
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
    },
  },
  responses: {
    202: created,
    400: error('Invalid query, file name or type, or an empty body (the details name the field)'),
    413: error('The file is larger than the upload limit (UPLOAD_MAX_BYTES; the details give it in bytes); nothing is kept'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/datasets',
  summary: 'Every dataset: the built-in demo dataset first, then newest first, with import progress; and the upload size limit',
  responses: { 200: json('Datasets', datasetListSchema) },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/datasets/{id}',
  summary: 'One dataset, with its import progress',
  request: { params: datasetIdParamSchema },
  responses: {
    200: json('The dataset', datasetSchema),
    400: error('Invalid id'),
    404: error('No such dataset'),
  },
});

const statsRouteDef = createRoute({
  method: 'get',
  path: '/api/datasets/{id}/stats',
  summary: 'Statistics of an imported dataset: counts, document length quantiles and histogram, most frequent tokens',
  request: { params: datasetIdParamSchema },
  responses: {
    200: json('The statistics', datasetStatsSchema),
    400: error('Invalid id'),
    404: error('No such dataset'),
    409: error('The dataset is not imported (yet)'),
  },
});

const samplesRouteDef = createRoute({
  method: 'get',
  path: '/api/datasets/{id}/samples',
  summary: 'A page of documents of an imported dataset with their token ids and per-token strings',
  request: { params: datasetIdParamSchema, query: datasetSampleQuerySchema },
  responses: {
    200: json('The page', datasetSampleSchema),
    400: error('Invalid id or query'),
    404: error('No such dataset'),
    409: error('The dataset is not imported (yet), or its tokenizer model is gone'),
  },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/datasets/{id}',
  summary: 'Deletes a dataset and its files, cancelling its import when it runs',
  request: { params: datasetIdParamSchema },
  responses: {
    204: { description: 'Deleted' },
    400: error('Invalid id'),
    404: error('No such dataset'),
    409: error('A built-in dataset cannot be deleted'),
  },
});

/** The model whose tokenizer a new dataset uses: the one asked for, or the default (demo) model; it must be downloaded. */
async function tokenizerModel(deps: AppDeps, id: string | undefined, where: string): Promise<ModelRow> {
  const model = await getModel(deps.db, id ?? DEMO_MODEL_ID);
  if (!model) throw fieldError('tokenizerModelId', id ? `no model ${id}` : 'no default model is registered: choose a model', where);
  if (model.status !== 'completed' || !model.path) throw fieldError('tokenizerModelId', `${model.name} is ${model.status}: a dataset is tokenized with a model whose files are in`, where);
  return model;
}

/** The stored settings of a new dataset, from the import options of the hub body or the upload query (an option left out is stored as null). */
function settingsOf(o: Pick<DatasetSettings, 'textColumn' | 'textSplit' | 'onBadRow'> & { addBos?: boolean | undefined; addEos?: boolean | undefined; maxDocuments?: number | undefined; maxTokens?: number | undefined }): DatasetSettings {
  return {
    textColumn: o.textColumn,
    textSplit: o.textSplit,
    onBadRow: o.onBadRow,
    addBos: o.addBos ?? null,
    addEos: o.addEos ?? null,
    maxDocuments: o.maxDocuments ?? null,
    maxTokens: o.maxTokens ?? null,
  };
}

/** The file name of `Content-Disposition: attachment; filename="…"` (or RFC 5987 `filename*=UTF-8''…`). */
export function dispositionFileName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim());
    } catch {
      // malformed escapes: fall back to the plain parameter
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
  if (!plain) return undefined;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2];
}

export function registerDatasetRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    let repo: string;
    try {
      repo = validateRepoId(body.source.repo);
    } catch (err) {
      throw fieldError('source.repo', err instanceof Error ? err.message : String(err));
    }
    const model = await tokenizerModel(deps, body.tokenizerModelId, 'request body');
    const source = { ...body.source, repo };
    const settings = settingsOf({ ...body, textColumn: source.textColumn });
    const id = crypto.randomUUID();
    const short = repo.split('/').pop()!;
    const name = body.name ?? (source.split === 'train' ? short : `${short} (${source.split})`);
    const row = await insertDataset(deps.db, { id, name, source, settings, tokenizerModelId: model.id, path: deps.datasets.dirOf(id) });
    const { dataset, jobId } = await queueImport(deps, row);
    return c.json({ dataset: toDataset(dataset), job: { id: jobId, kind: IMPORT } }, 202);
  });

  app.openapi(uploadRouteDef, async (c) => {
    const q = c.req.valid('query');
    const deps = c.get('deps');
    const where = 'query parameters';
    const given = q.filename ?? dispositionFileName(c.req.header('content-disposition'));
    if (!given) throw fieldError('filename', 'the file name is required (`?filename=` or `Content-Disposition: attachment; filename="…"`); its extension says the format', where);
    let fileName: string;
    try {
      fileName = safeUploadName(given).name;
    } catch (err) {
      throw fieldError('filename', err instanceof Error ? err.message : String(err), where);
    }
    const model = await tokenizerModel(deps, q.tokenizerModelId, where);
    const limit = deps.datasets.maxUploadBytes;
    const tooLarge = (size: string) =>
      new AppError('payload_too_large', 413, `${fileName}: ${size} is larger than the upload limit of ${limit} bytes (UPLOAD_MAX_BYTES)`, { field: 'body', limitBytes: limit });
    const declared = Number(c.req.header('content-length'));
    // Refused before a byte is read when the client says how big it is.
    if (Number.isFinite(declared) && declared > limit) throw tooLarge(`the file (${declared} bytes)`);
    const body = c.req.raw.body;
    if (!body) throw fieldError('body', 'empty: the request body is the file', 'request body');

    const id = crypto.randomUUID();
    let saved: { name: string; bytes: number };
    try {
      saved = await deps.datasets.saveUpload(id, body, given, c.req.raw.signal);
    } catch (err) {
      // Nothing of a refused upload stays.
      await deps.datasets.remove(id);
      if (err instanceof DatasetError && err.code === 'too_large') throw tooLarge('the file');
      if (err instanceof DatasetError && err.code === 'unsupported') throw fieldError('filename', err.message, where);
      // A client that goes away mid-upload is not a server error, whatever the stream threw.
      if ((err instanceof DatasetError && err.code === 'cancelled') || c.req.raw.signal.aborted) throw new AppError('cancelled', 400, 'The upload was cancelled');
      throw err;
    }
    if (saved.bytes === 0) {
      await deps.datasets.remove(id);
      throw fieldError('body', `empty: ${fileName} has no bytes`, 'request body');
    }
    const settings = settingsOf(q);
    let row: DatasetRow;
    try {
      row = await insertDataset(deps.db, {
        id,
        name: q.name ?? saved.name,
        source: { kind: 'upload', fileName: saved.name, bytes: saved.bytes },
        settings,
        tokenizerModelId: model.id,
        path: deps.datasets.dirOf(id),
      });
    } catch (err) {
      await deps.datasets.remove(id);
      throw err;
    }
    const { dataset, jobId } = await queueImport(deps, row);
    return c.json({ dataset: toDataset(dataset), job: { id: jobId, kind: IMPORT } }, 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const deps = c.get('deps');
    const rows = await listDatasets(deps.db);
    return c.json({ datasets: rows.map(toDataset), uploadMaxBytes: deps.datasets.maxUploadBytes }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getDataset(c.get('deps').db, id);
    if (!row) throw notFound('dataset', id);
    return c.json(toDataset(row), 200);
  });

  app.openapi(statsRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getDataset(c.get('deps').db, id);
    if (!row) throw notFound('dataset', id);
    if (row.status !== 'completed' || !row.stats) throw new AppError('not_ready', 409, `${row.name} is ${row.status}: its statistics are known once it is imported`, { field: 'id', status: row.status });
    return c.json(row.stats, 200);
  });

  app.openapi(samplesRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const page = c.req.valid('query');
    const deps = c.get('deps');
    const row = await getDataset(deps.db, id);
    if (!row) throw notFound('dataset', id);
    if (row.status !== 'completed' || !row.path) throw new AppError('not_ready', 409, `${row.name} is ${row.status}: its documents can be browsed once it is imported`, { field: 'id', status: row.status });
    const model = row.tokenizerModelId ? await getModel(deps.db, row.tokenizerModelId) : undefined;
    if (!model?.path || model.status !== 'completed') throw new AppError('no_tokenizer', 409, `${row.name}: the model whose tokenizer made its tokens is gone, so they cannot be shown as text`, { field: 'id' });
    try {
      return c.json(await deps.datasets.sample(row.path, model.path, page), 200);
    } catch (err) {
      if (err instanceof DatasetError) throw new AppError('unreadable', 409, `${row.name}: ${err.message}`, { field: 'id' });
      throw err;
    }
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getDataset(deps.db, id);
    if (!row) throw notFound('dataset', id);
    if (row.builtin) throw new AppError('conflict', 409, `${row.name} is built in and cannot be deleted`, { field: 'id' });
    await cancelUnfinishedJob(deps, row.jobId);
    await removeExtractionsOf(deps, { datasetId: id });
    await deleteDataset(deps.db, id);
    // The worker also removes the folder when its cancelled import stops, in case it wrote after this.
    await deps.datasets.remove(id);
    return c.body(null, 204);
  });
}
