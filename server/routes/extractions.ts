/**
 * Extractions: `POST /api/extractions` (queue an `activations.extract` job),
 * `GET /api/extractions` (the history, with settings and live progress),
 * `GET /api/extractions/{id}` (with what its store holds: hooks, shapes,
 * shards, rows, statistics), `POST /api/extractions/{id}/cancel`,
 * `DELETE /api/extractions/{id}`; templates (saved presets):
 * `GET/POST /api/extraction-templates`, `DELETE /api/extraction-templates/{id}`.
 *
 * A cancelled extraction keeps its row (the history) but not its files: the
 * job deletes its folder when it stops.
 */
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { hookPoints as hookPointsOf } from '../../models/architectures/decoder.ts';
import { familyOf } from '../../models/architectures/index.ts';
import { checkAgainstModel, ExtractionSettingsError, planWindows, resolveHooks, resolveSettings, rowShape } from '../../models/activations/plan.ts';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { estimateExtractionMemory, type MemoryEstimate } from '../../models/memory.ts';
import {
  createdExtractionSchema,
  createExtractionSchema,
  createTemplateSchema,
  extractionDetailSchema,
  extractionIdParamSchema,
  extractionListQuerySchema,
  extractionListSchema,
  extractionSchema,
  extractionTemplateSchema,
  EXTRACTION_LIMITS,
  templateListSchema,
  type Extraction,
  type ExtractionDetail,
} from '../../models/contracts/extractions.ts';
import { JOB_QUEUES } from '../../models/contracts/jobs.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import { logger } from '../../models/log.ts';
import type { Events } from '../../db/events.ts';
import { getDataset } from '../../db/queries/datasets.ts';
import { deleteTemplate, getTemplate, insertTemplate, listTemplates } from '../../db/queries/extraction-templates.ts';
import { cancelExtractionOfJob, deleteExtraction, getExtraction, insertExtraction, listExtractions, setExtractionJob, type ExtractionRow } from '../../db/queries/extractions.ts';
import { getJob, isFinished } from '../../db/queries/jobs.ts';
import { getModel } from '../../db/queries/models.ts';
import { AppError } from '../errors.ts';
import { checkJobMemory } from '../job-memory.ts';
import type { App, AppDeps } from '../app.ts';
import { cancelJob } from './jobs.ts';

const EXTRACT = 'activations.extract' satisfies keyof typeof JOB_QUEUES;
const log = logger('http');

/** What the store of an extraction holds (`manifest` of `GET /api/extractions/{id}`). */
export type ManifestSummary = NonNullable<ExtractionDetail['manifest']>;

/** The activation stores, as the routes need them (on Node: server/extraction-storage.ts over DATA_DIR). */
export interface ExtractionStorage {
  /** What the store of extraction `id` holds, from its manifest; null before the job wrote one. */
  summary(id: string): Promise<ManifestSummary | null>;
  /** Removes the folder of extraction `id` (nothing when there is none). */
  remove(id: string): Promise<void>;
}

const error = (description: string) => ({ description, content: { 'application/json': { schema: errorBodySchema } } });
const json = <S extends z.ZodType>(description: string, schema: S) => ({ description, content: { 'application/json': { schema } } });

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/extractions',
  summary:
    'Starts an extraction: the model over the dataset, storing the activations of each hook point (shards [tokens, d] + manifest with every row\'s dataset position and per-hook mean, variance and mean norm); an `activations.extract` job runs it',
  description:
    'Settings left out come from `templateId` when given, else their defaults: dtype the model\'s, storage f32, contextLength 128, batchSize 8, tokenBudget 1,000,000, windows without overlap, BOS excluded, BOS prepended when the dataset\'s tokenizer adds it to documents, shards of about 64 MiB per hook.',
  request: { body: { required: true, content: { 'application/json': { schema: createExtractionSchema } } } },
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

const templateIdParamSchema = z.object({ id: z.string().uuid() });

const listTemplatesDef = createRoute({
  method: 'get',
  path: '/api/extraction-templates',
  summary: 'Saved extraction templates (presets of settings and hook points), by name',
  responses: { 200: json('Templates', templateListSchema) },
});

const createTemplateDef = createRoute({
  method: 'post',
  path: '/api/extraction-templates',
  summary: 'Saves an extraction template; `settings` may hold any of the extraction settings and hook points',
  request: { body: { required: true, content: { 'application/json': { schema: createTemplateSchema } } } },
  responses: {
    201: json('The template', extractionTemplateSchema),
    400: error('Invalid body (the details name the field)'),
    409: error('A template has this name already, or there are too many'),
  },
});

const deleteTemplateDef = createRoute({
  method: 'delete',
  path: '/api/extraction-templates/{id}',
  summary: 'Deletes an extraction template (runs made with it keep their settings)',
  request: { params: templateIdParamSchema },
  responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such template') },
});

/** The API's view of a row. */
export function toExtraction(r: ExtractionRow): Extraction {
  return {
    id: r.id,
    modelId: r.modelId,
    modelName: r.modelName,
    datasetId: r.datasetId,
    datasetName: r.datasetName,
    hookPoints: r.hookPoints,
    settings: r.settings,
    status: r.status,
    progress: r.progress,
    stats: r.stats,
    jobId: r.jobId,
    error: r.error,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Publishes an extraction's status on `extraction/{id}` (its last progress with the new status), for a change made outside its job. */
export async function publishExtractionStatus(events: Events, e: ExtractionRow): Promise<void> {
  const base: ExtractionProgress = e.progress ?? {
    id: e.id,
    status: e.status,
    phase: 'queued',
    tokensDone: 0,
    tokensTotal: 0,
    windowsDone: 0,
    windowsTotal: 0,
    rows: 0,
    shards: 0,
    tokensPerSecond: 0,
    etaSeconds: null,
    fallbacks: [],
    error: null,
    ts: Date.now(),
  };
  await events.publish(`extraction/${e.id}`, { ...base, status: e.status, tokensPerSecond: 0, etaSeconds: null, error: e.error, ts: Date.now() });
}

/** A 400 naming one field, in the shape of the validation errors. */
function fieldError(field: string, message: string): AppError {
  return new AppError('invalid_request', 400, `Invalid request body: ${field}: ${message}`, [{ field, message }]);
}

function storage(deps: AppDeps): ExtractionStorage {
  if (!deps.extractions) throw new AppError('not_configured', 500, 'This server has no activation storage configured');
  return deps.extractions;
}

/**
 * Before a model or dataset is deleted (its extraction rows go with it, by
 * foreign key): stops their runs and removes their activation folders.
 */
export async function removeExtractionsOf(deps: AppDeps, filter: { modelId?: string; datasetId?: string }): Promise<void> {
  const rows = await listExtractions(deps.db, filter);
  for (const row of rows) {
    await cancelRun(deps, row);
    await deps.extractions?.remove(row.id);
  }
}

/** Cancels the job of `row` when it has not finished, marking the row cancelled; true when it did. */
async function cancelRun(deps: AppDeps, row: ExtractionRow): Promise<boolean> {
  if (!row.jobId) return false;
  const job = await getJob(deps.db, row.jobId);
  if (!job || isFinished(job.state)) return false;
  // jobs.ts marks the row cancelled and publishes it (as for a cancel through /api/jobs)
  await cancelJob(deps, job.kind, job.id);
  return true;
}

export function registerExtractionRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const { modelId, datasetId, templateId, hookPoints: bodyHooks, ...bodySettings } = body;
    const template = templateId ? await getTemplate(deps.db, templateId) : undefined;
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
        throw new ExtractionSettingsError('datasetId', `${dataset.name} was tokenized with a vocabulary of ${dataset.stats.vocabSize} tokens; ${model.name} has ${spec.vocabSize}`);
      }
      // The body's settings over the template's (an explicit null stays null).
      const merged = { ...templateSettings, ...Object.fromEntries(Object.entries(bodySettings).filter(([, v]) => v !== undefined)) };
      settings = resolveSettings(merged, { modelDtype: model.dtype, widestRow: Math.max(...resolved.map((h) => rowShape(h).reduce((a, b) => a * b, 1))) });
      checkAgainstModel(settings, spec);
      planWindows(settings, dataset.stats.tokens, dataset.settings.addBos ?? false);
      memory = estimateExtractionMemory(spec, settings, resolved.map((h) => rowShape(h).reduce((a, b) => a * b, 1)));
    } catch (err) {
      if (err instanceof ExtractionSettingsError) throw fieldError(err.field, err.message.slice(err.field.length + 2));
      throw fieldError('modelId', `${model.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    await checkJobMemory(deps.db, EXTRACT, memory, 'This extraction');

    const row = await insertExtraction(deps.db, { modelId, datasetId, hookPoints: hooks, settings });
    let jobId: string | null;
    try {
      jobId = await deps.boss.send(EXTRACT, { extractionId: row.id }, { ...JOB_QUEUES[EXTRACT] });
      if (!jobId) throw new Error('pg-boss did not create the job');
    } catch (err) {
      await deleteExtraction(deps.db, row.id);
      throw new AppError('queue_unavailable', 503, 'Could not queue the extraction job; try again', undefined, { cause: err });
    }
    const extraction = (await setExtractionJob(deps.db, row.id, jobId)) ?? row;
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
    if (!row) throw new AppError('not_found', 404, `No extraction ${id}`, { field: 'id' });
    let manifest: ManifestSummary | null = null;
    try {
      manifest = await storage(deps).summary(id);
    } catch (err) {
      if (err instanceof AppError) throw err;
      // A manifest being replaced, or unreadable: the row still answers.
      log.warn('manifest not readable', { id, error: err instanceof Error ? err.message : String(err) });
    }
    return c.json({ ...toExtraction(row), manifest }, 200);
  });

  app.openapi(cancelRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getExtraction(deps.db, id);
    if (!row) throw new AppError('not_found', 404, `No extraction ${id}`, { field: 'id' });
    if (!(await cancelRun(deps, row))) {
      // A queued row whose job is gone (or never sent) is cancelled here.
      const direct = row.status === 'queued' && row.jobId ? await cancelExtractionOfJob(deps.db, row.jobId) : undefined;
      if (!direct) throw new AppError('conflict', 409, `Extraction ${id} has already finished (${row.status})`, { status: row.status });
      await publishExtractionStatus(deps.events, direct);
    }
    const after = await getExtraction(deps.db, id);
    if (!after) throw new AppError('not_found', 404, `No extraction ${id}`, { field: 'id' });
    if (after.status !== 'cancelled') throw new AppError('conflict', 409, `Extraction ${id} finished (${after.status}) before it could be cancelled`, { status: after.status });
    return c.json(toExtraction(after), 200);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getExtraction(deps.db, id);
    if (!row) throw new AppError('not_found', 404, `No extraction ${id}`, { field: 'id' });
    await cancelRun(deps, row);
    await deleteExtraction(deps.db, id);
    // The job also removes the folder when its cancelled run stops, in case it wrote after this.
    await storage(deps).remove(id);
    return c.body(null, 204);
  });

  app.openapi(listTemplatesDef, async (c) => c.json({ templates: await listTemplates(c.get('deps').db) }, 200));

  app.openapi(createTemplateDef, async (c) => {
    const body = c.req.valid('json');
    const saved = await insertTemplate(c.get('deps').db, body, EXTRACTION_LIMITS.MAX_TEMPLATES);
    if (saved === 'name_taken') throw new AppError('conflict', 409, `A template named "${body.name}" exists already`, [{ field: 'name', message: 'a template has this name already' }]);
    if (saved === 'too_many') throw new AppError('conflict', 409, `There are ${EXTRACTION_LIMITS.MAX_TEMPLATES} templates already; delete one first`);
    return c.json(saved, 201);
  });

  app.openapi(deleteTemplateDef, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await deleteTemplate(c.get('deps').db, id))) throw new AppError('not_found', 404, `No template ${id}`, { field: 'id' });
    return c.body(null, 204);
  });
}
