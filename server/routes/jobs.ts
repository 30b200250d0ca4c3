/**
 * `GET /api/jobs`, `GET /api/jobs/{id}`, `POST /api/jobs/{id}/cancel`: every
 * pg-boss job, whatever its kind. A cancel sets the job cancelled in pg-boss,
 * then NOTIFYs the workers, whose runner aborts the handler's signal (see
 * workers/runner.ts); what the job was producing is marked cancelled here too,
 * since a job cancelled before it started has no handler to do it.
 */
import { createRoute } from '@hono/zod-openapi';
import { errorBodySchema, jobIdParamSchema, jobListQuerySchema, jobListSchema, jobSchema } from '../../models/contracts/api.ts';
import type { Db } from '../../db/client.ts';
import type { Events } from '../../db/events.ts';
import { stopDemoOfJob } from '../../db/queries/demo.ts';
import { getJob, isFinished, listJobs, notifyJobCancelled } from '../../db/queries/jobs.ts';
import { cancelDatasetOfJob } from '../../db/queries/datasets.ts';
import { cancelExtractionOfJob } from '../../db/queries/extractions.ts';
import { cancelModelOfJob } from '../../db/queries/models.ts';
import { AppError } from '../errors.ts';
import type { App, AppDeps } from '../app.ts';
import { publishDatasetStatus } from './datasets.ts';
import { cancelDiscoveryOfJob } from './discoveries.ts';
import { publishExtractionStatus } from './extractions.ts';
import { publishModelStatus } from './models.ts';
import { cancelTrainingOfJob } from './trainings.ts';

const error = (description: string) => ({ description, content: { 'application/json': { schema: errorBodySchema } } });

const listRoute = createRoute({
  method: 'get',
  path: '/api/jobs',
  summary: 'Jobs of every kind, newest first, filtered by kind (queue name) and state',
  request: { query: jobListQuerySchema },
  responses: {
    200: { description: 'A page of jobs', content: { 'application/json': { schema: jobListSchema } } },
    400: error('Invalid query'),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/api/jobs/{id}',
  summary: 'One job: kind, state, data, output, progress, times and retries',
  request: { params: jobIdParamSchema },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: jobSchema } } },
    400: error('Invalid id'),
    404: error('No such job'),
  },
});

const cancelRoute = createRoute({
  method: 'post',
  path: '/api/jobs/{id}/cancel',
  summary: 'Cancels a job that has not finished; a running handler is aborted within about a second',
  request: { params: jobIdParamSchema },
  responses: {
    200: { description: 'The job after the cancel (state `cancelled`)', content: { 'application/json': { schema: jobSchema } } },
    400: error('Invalid id'),
    404: error('No such job'),
    409: error('The job has already finished'),
  },
});

/**
 * Cancels job `id` of queue `kind`: pg-boss state, the workers' signal, and
 * the row the job fills. Idempotent; a finished job is left as it is.
 */
export async function cancelJob(deps: Pick<AppDeps, 'boss' | 'db' | 'events'>, kind: string, id: string): Promise<void> {
  await deps.boss.cancel(kind, id);
  await notifyJobCancelled(deps.db, id);
  await cancelOwner(deps.db, deps.events, kind, id);
}

/** Marks what a cancelled job was producing as cancelled (per kind). */
async function cancelOwner(db: Db, events: Events, kind: string, id: string): Promise<void> {
  if (kind === 'model.download') {
    const model = await cancelModelOfJob(db, id);
    if (model) await publishModelStatus(events, model);
  }
  if (kind === 'dataset.import') {
    const dataset = await cancelDatasetOfJob(db, id);
    if (dataset) await publishDatasetStatus(events, dataset);
  }
  if (kind === 'sae.train') await cancelTrainingOfJob(db, events, id);
  if (kind === 'features.discover') await cancelDiscoveryOfJob(db, events, id);
  if (kind === 'demo.setup') await stopDemoOfJob(db, id);
  if (kind === 'activations.extract') {
    const extraction = await cancelExtractionOfJob(db, id);
    if (extraction) await publishExtractionStatus(events, extraction);
  }
}

export function registerJobRoutes(app: App): void {
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    return c.json(await listJobs(c.get('deps').db, q), 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const job = await getJob(c.get('deps').db, id);
    if (!job) throw new AppError('not_found', 404, `No job ${id}`, { field: 'id' });
    return c.json(job, 200);
  });

  app.openapi(cancelRoute, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const job = await getJob(deps.db, id);
    if (!job) throw new AppError('not_found', 404, `No job ${id}`, { field: 'id' });
    if (isFinished(job.state)) throw new AppError('conflict', 409, `Job ${id} has already finished (${job.state})`, { state: job.state });
    await cancelJob(deps, job.kind, id);
    const after = await getJob(deps.db, id);
    if (!after) throw new AppError('not_found', 404, `No job ${id}`, { field: 'id' });
    // The job may have finished between the read and the cancel: say so rather than pretend.
    if (after.state !== 'cancelled') throw new AppError('conflict', 409, `Job ${id} finished (${after.state}) before it could be cancelled`, { state: after.state });
    return c.json(after, 200);
  });
}
