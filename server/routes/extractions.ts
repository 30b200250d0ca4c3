/**
 * Extractions: `POST /api/extractions` (queue an `activations.extract` job),
 * `GET /api/extractions` (the history, with settings and live progress),
 * `GET /api/extractions/{id}` (with what its store holds: hooks, shapes,
 * shards, rows, statistics), `POST /api/extractions/{id}/cancel`,
 * `DELETE /api/extractions/{id}`. Their templates (saved presets) are
 * server/routes/templates.ts.
 *
 * A cancelled extraction keeps its row (the history) but not its files: the
 * job deletes its folder when it stops.
 */
import { createRoute } from '@hono/zod-openapi';
import { hookPoints as hookPointsOf } from '../../models/architectures/decoder.ts';
import { familyOf } from '../../models/architectures/index.ts';
import { checkAgainstModel, planWindows, resolveHooks, resolveSettings, rowShape } from '../../models/activations/plan.ts';
import { estimateExtractionMemory, type MemoryEstimate } from '../../models/memory.ts';
import {
  createdExtractionSchema,
  createExtractionSchema,
  extractionDetailSchema,
  extractionIdParamSchema,
  extractionListQuerySchema,
  extractionListSchema,
  extractionSchema,
} from '../../models/contracts/extractions.ts';
import { logger } from '../../models/log.ts';
import { SettingsError } from '../../models/settings-error.ts';
import { getDataset } from '../../db/queries/datasets.ts';
import { getTemplate } from '../../db/queries/templates.ts';
import { deleteExtraction, getExtraction, insertExtraction, listExtractions } from '../../db/queries/extractions.ts';
import { getModel } from '../../db/queries/models.ts';
import { EXTRACT, markExtractionCancelled, queueExtraction, toExtraction } from '../artifacts/extractions.ts';
import { cancelUnfinishedJob } from '../artifacts/index.ts';
import { AppError } from '../errors.ts';
import { checkJobMemory } from '../job-memory.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import type { ManifestSummary } from '../storage.ts';
import type { App } from '../app.ts';

const log = logger('http');

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/extractions',
  summary:
    'Starts an extraction: the model over the dataset, storing the activations of each hook point (shards [tokens, d] + manifest with every row\'s dataset position and per-hook mean, variance and mean norm); an `activations.extract` job runs it',
  description:
    'Settings left out come from `templateId` when given, else their defaults: dtype the model\'s, storage f32, contextLength 128, batchSize 8, tokenBudget 1,000,000, windows without overlap, BOS excluded, BOS prepended when the dataset\'s tokenizer adds it to documents, shards of about 64 MiB per hook.',
  request: { body: jsonBody(createExtractionSchema) },
  responses: {
    202: json('The queued extraction and its job', createdExtractionSchema),
    400: error('Invalid body, or settings the model or dataset cannot satisfy (the details name the field)'),
    422: error('The extraction would need more memory than the largest worker has (`insufficient_memory`; the details name the field to lower)'),
    503: error('The job could not be queued'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/extractions',
  summary: 'The history of extractions, newest first, with their settings, status and progress; filtered by model, dataset or status',
  request: { query: extractionListQuerySchema },
  responses: { 200: json('Extractions', extractionListSchema), 400: error('Invalid query') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/extractions/{id}',
  summary: 'One extraction, with what its store holds now: per hook its row shape, dtype, shards, rows, statistics and per-dimension variance (downsampled)',
  request: { params: extractionIdParamSchema },
  responses: { 200: json('The extraction', extractionDetailSchema), 400: error('Invalid id'), 404: error('No such extraction') },
});

const cancelRouteDef = createRoute({
  method: 'post',
  path: '/api/extractions/{id}/cancel',
  summary: 'Cancels a queued or running extraction: it stops within a batch, its folder is deleted, and the row stays in the history as cancelled',
  request: { params: extractionIdParamSchema },
  responses: { 200: json('The extraction, cancelled', extractionSchema), 400: error('Invalid id'), 404: error('No such extraction'), 409: error('It has already finished') },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/extractions/{id}',
  summary: 'Deletes an extraction and its activations folder, cancelling it first when it runs',
  request: { params: extractionIdParamSchema },
  responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such extraction') },
});

export function registerExtractionRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const { modelId, datasetId, templateId, hookPoints: bodyHooks, ...bodySettings } = body;
    const template = templateId ? await getTemplate(deps.db, 'extraction', templateId) : undefined;
    if (templateId && !template) throw fieldError('templateId', `no template ${templateId}`);
    const { hookPoints: templateHooks, ...templateSettings } = template?.settings ?? {};
    const hooks = bodyHooks ?? templateHooks;
    if (!hooks) throw fieldError('hookPoints', 'pick at least one hook point (or a template that has them)');

    const model = await getModel(deps.db, modelId);
    if (!model) throw fieldError('modelId', `no model ${modelId}`);
    if (model.status !== 'completed' || !model.config) throw fieldError('modelId', `${model.name} is ${model.status}: extract once its files are in`);
    const dataset = await getDataset(deps.db, datasetId);
    if (!dataset) throw fieldError('datasetId', `no dataset ${datasetId}`);
    if (dataset.status !== 'completed' || !dataset.stats) throw fieldError('datasetId', `${dataset.name} is ${dataset.status}: extract once it is tokenized`);

    let settings;
    let memory: MemoryEstimate;
    try {
      // checked against models/architectures/limits.ts before anything is sized from it: a bad config is a 400 naming modelId
      const spec = familyOf(model.config).spec(model.config);
      const resolved = resolveHooks(hookPointsOf(spec), hooks);
      if (dataset.stats.vocabSize > spec.vocabSize) {
        throw new SettingsError('datasetId', `${dataset.name} was tokenized with a vocabulary of ${dataset.stats.vocabSize} tokens; ${model.name} has ${spec.vocabSize}`);
      }
      // The body's settings over the template's (an explicit null stays null).
      const merged = { ...templateSettings, ...Object.fromEntries(Object.entries(bodySettings).filter(([, v]) => v !== undefined)) };
      settings = resolveSettings(merged, { modelDtype: model.dtype, widestRow: Math.max(...resolved.map((h) => rowShape(h).reduce((a, b) => a * b, 1))) });
      checkAgainstModel(settings, spec);
      planWindows(settings, dataset.stats.tokens, dataset.settings.addBos ?? false);
      memory = estimateExtractionMemory(spec, settings, resolved.map((h) => rowShape(h).reduce((a, b) => a * b, 1)));
    } catch (err) {
      if (err instanceof SettingsError) throw err;
      throw fieldError('modelId', `${model.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    await checkJobMemory(deps.db, EXTRACT, memory, 'This extraction');

    const row = await insertExtraction(deps.db, { modelId, datasetId, hookPoints: hooks, settings });
    const { extraction, jobId } = await queueExtraction(deps, row);
    return c.json({ extraction: toExtraction(extraction), job: { id: jobId, kind: EXTRACT } }, 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const q = c.req.valid('query');
    const rows = await listExtractions(c.get('deps').db, q);
    return c.json({ extractions: rows.map(toExtraction) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getExtraction(deps.db, id);
    if (!row) throw notFound('extraction', id);
    let manifest: ManifestSummary | null = null;
    try {
      manifest = await deps.extractions.summary(id);
    } catch (err) {
      // A manifest being replaced, or unreadable: the row still answers.
      log.warn('manifest not readable', { id, error: err instanceof Error ? err.message : String(err) });
    }
    return c.json({ ...toExtraction(row), manifest }, 200);
  });

  app.openapi(cancelRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getExtraction(deps.db, id);
    if (!row) throw notFound('extraction', id);
    // the cancel marks the row cancelled and publishes it (as for a cancel through /api/jobs)
    if (!(await cancelUnfinishedJob(deps, row.jobId))) {
      // A queued row whose job is gone (or never sent) is cancelled here.
      const direct = row.status === 'queued' && row.jobId ? await markExtractionCancelled(deps.db, deps.events, row.jobId) : undefined;
      if (!direct) throw new AppError('conflict', 409, `Extraction ${id} has already finished (${row.status})`, { status: row.status });
    }
    const after = await getExtraction(deps.db, id);
    if (!after) throw notFound('extraction', id);
    if (after.status !== 'cancelled') throw new AppError('conflict', 409, `Extraction ${id} finished (${after.status}) before it could be cancelled`, { status: after.status });
    return c.json(toExtraction(after), 200);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getExtraction(deps.db, id);
    if (!row) throw notFound('extraction', id);
    await cancelUnfinishedJob(deps, row.jobId);
    await deleteExtraction(deps.db, id);
    // The job also removes the folder when its cancelled run stops, in case it wrote after this.
    await deps.extractions.remove(id);
    return c.body(null, 204);
  });
}
