/**
 * Feature discoveries: `POST /api/discoveries` (queue a `features.discover`
 * job: an SAE over an extraction's stored activations; its completion
 * replaces the SAE's features), `GET /api/discoveries?sae=` (newest first),
 * `GET /api/discoveries/{id}` (status and progress; live on topic
 * `discovery/{id}`), `DELETE /api/discoveries/{id}` (cancels it when it runs,
 * then deletes the row; the features a completed one wrote stay).
 */
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { errorBodySchema } from '../../models/contracts/api.ts';
import { createDiscoverySchema, discoveryIdParamSchema, discoveryListQuerySchema, discoveryListSchema, discoverySchema } from '../../models/contracts/features.ts';
import { JOB_QUEUES } from '../../models/contracts/jobs.ts';
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { cancelDiscoveryOfJob as cancelDiscoveryOfJobRow, deleteDiscovery, DISCOVER_QUEUE, getDiscovery, insertDiscovery, listDiscoveries, updateDiscovery, type DiscoveryRow } from '../../db/queries/discoveries.ts';
import { getExtraction } from '../../db/queries/extractions.ts';
import { getJob, isFinished } from '../../db/queries/jobs.ts';
import { getSae } from '../../db/queries/saes.ts';
import { getTraining } from '../../db/queries/trainings.ts';
import { AppError } from '../errors.ts';
import type { App, AppDeps } from '../app.ts';
import { featureStorage } from './features.ts';
import { cancelJob } from './jobs.ts';

const DISCOVER = DISCOVER_QUEUE satisfies keyof typeof JOB_QUEUES;

const error = (description: string) => ({ description, content: { 'application/json': { schema: errorBodySchema } } });
const json = <S extends z.ZodType>(description: string, schema: S) => ({ description, content: { 'application/json': { schema } } });

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/discoveries',
  summary: "Discovers an SAE's features: per feature its activation frequency, max and mean, histogram, top-k contexts with per-token values, a heuristic label and score (and an LLM label when Settings name an endpoint); a `features.discover` job runs it and replaces the SAE's features when it completes",
  description: 'extractionId defaults to the extraction the SAE was trained on; it must be completed and hold the SAE\'s hook point. topK 10 examples a feature, 16 tokens before and 4 after each peak.',
  request: { body: { required: true, content: { 'application/json': { schema: createDiscoverySchema } } } },
  responses: {
    202: json('The queued discovery', discoverySchema),
    400: error('Invalid body, an SAE without a usable extraction, or an extraction without its hook (the details name the field)'),
    503: error('The job could not be queued'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/discoveries',
  summary: 'Discoveries, newest first, of one SAE (`sae`) or all, with status and progress',
  request: { query: discoveryListQuerySchema },
  responses: { 200: json('Discoveries', discoveryListSchema), 400: error('Invalid query') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/discoveries/{id}',
  summary: 'One discovery: status, phase, rows done and to do, features labelled, ETA, error and warning',
  request: { params: discoveryIdParamSchema },
  responses: { 200: json('The discovery', discoverySchema), 400: error('Invalid id'), 404: error('No such discovery') },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/discoveries/{id}',
  summary: 'Deletes a discovery, cancelling it first when it is queued or running (it then writes no feature); the features a completed discovery wrote stay',
  request: { params: discoveryIdParamSchema },
  responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such discovery') },
});

/** A 400 naming one field, in the shape of the validation errors. */
function fieldError(field: string, message: string): AppError {
  return new AppError('invalid_request', 400, `Invalid request body: ${field}: ${message}`, [{ field, message }]);
}

/** Marks the discovery run by job `jobId` cancelled, if it has not finished (a cancel through `/api/jobs`), and publishes it. */
export async function cancelDiscoveryOfJob(db: Db, events: Events, jobId: string): Promise<void> {
  const after = await cancelDiscoveryOfJobRow(db, jobId);
  if (after) await events.publish(`discovery/${after.id}`, after);
}

/** Cancels the job of a discovery when it has not finished. */
async function cancelRun(deps: AppDeps, row: DiscoveryRow): Promise<void> {
  if (!row.jobId) return;
  const job = await getJob(deps.db, row.jobId);
  if (job && !isFinished(job.state)) await cancelJob(deps, job.kind, job.id);
}

export function registerDiscoveryRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const sae = await getSae(deps.db, body.saeId);
    if (!sae) throw fieldError('saeId', `no SAE ${body.saeId}`);
    let extractionId = body.extractionId;
    if (!extractionId) {
      const training = sae.trainingId ? await getTraining(deps.db, sae.trainingId) : undefined;
      if (!training) throw fieldError('extractionId', `SAE ${sae.id} was not trained here (or its training was deleted): give the extraction to run it over`);
      extractionId = training.extractionId;
    }
    const extraction = await getExtraction(deps.db, extractionId);
    if (!extraction) throw fieldError('extractionId', `no extraction ${extractionId}`);
    if (extraction.status !== 'completed') throw fieldError('extractionId', `extraction ${extractionId} is ${extraction.status}: discover features once it has completed`);
    const summary = await deps.extractions?.summary(extraction.id).catch(() => null);
    if (!summary?.complete) throw fieldError('extractionId', `the activations of extraction ${extraction.id} are ${summary ? 'incomplete' : 'gone'}`);
    const hook = summary.hooks.find((h) => h.hook === sae.hookPoint);
    if (!hook) throw fieldError('extractionId', `extraction ${extraction.id} has no activations at ${sae.hookPoint}, the SAE's hook point (it has ${summary.hooks.map((h) => h.hook).join(', ')})`);
    if (hook.d !== sae.dIn) throw fieldError('extractionId', `extraction ${extraction.id} stores ${hook.d} values a row at ${sae.hookPoint}; the SAE takes ${sae.dIn}`);

    const row = await insertDiscovery(deps.db, { saeId: sae.id, extractionId: extraction.id, settings: { topK: body.topK, left: body.left, right: body.right } });
    let jobId: string | null;
    try {
      jobId = await deps.boss.send(DISCOVER, { discoveryId: row.id }, { ...JOB_QUEUES[DISCOVER] });
      if (!jobId) throw new Error('pg-boss did not create the job');
    } catch (err) {
      await deleteDiscovery(deps.db, row.id);
      throw new AppError('queue_unavailable', 503, 'Could not queue the discovery job; try again', undefined, { cause: err });
    }
    const queued = (await updateDiscovery(deps.db, row.id, { jobId })) ?? row;
    await deps.events.publish(`discovery/${queued.id}`, queued);
    return c.json(queued, 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const q = c.req.valid('query');
    return c.json({ discoveries: await listDiscoveries(c.get('deps').db, { saeId: q.sae, limit: q.limit }) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getDiscovery(c.get('deps').db, id);
    if (!row) throw new AppError('not_found', 404, `No discovery ${id}`, { field: 'id' });
    return c.json(row, 200);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getDiscovery(deps.db, id);
    if (!row) throw new AppError('not_found', 404, `No discovery ${id}`, { field: 'id' });
    await cancelRun(deps, row);
    await deleteDiscovery(deps.db, id);
    // the job stops within a chunk of rows and writes nothing after the cancel; a retry left waiting has staged files
    await featureStorage(deps).removeDiscovery(id);
    return c.body(null, 204);
  });
}
