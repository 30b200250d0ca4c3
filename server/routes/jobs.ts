/**
 * `GET /api/jobs`, `GET /api/jobs/{id}`, `POST /api/jobs/{id}/cancel`: every
 * pg-boss job, whatever its kind. A cancel sets the job cancelled in pg-boss,
 * then NOTIFYs the workers, whose runner aborts the handler's signal (see
 * workers/runner.ts); what the job was producing is marked cancelled here too,
 * since a job cancelled before it started has no handler to do it
 * (server/artifacts/index.ts).
 */
import { createRoute } from '@hono/zod-openapi';
import { jobIdParamSchema, jobListQuerySchema, jobListSchema, jobSchema } from '../../models/contracts/api.ts';
import { getJob, isFinished, listJobs } from '../../db/queries/jobs.ts';
import { cancelJob } from '../artifacts/index.ts';
import { AppError } from '../errors.ts';
import { error, json, notFound } from '../responses.ts';
import type { App } from '../app.ts';

const listRoute = createRoute({
  method: 'get',
  path: '/api/jobs',
  summary: 'Jobs of every kind, newest first, filtered by kind (queue name) and state',
  request: { query: jobListQuerySchema },
  responses: {
    200: json('A page of jobs', jobListSchema),
    400: error('Invalid query'),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/api/jobs/{id}',
  summary: 'One job: kind, state, data, output, progress, times and retries',
  request: { params: jobIdParamSchema },
  responses: {
    200: json('The job', jobSchema),
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
    200: json('The job after the cancel (state `cancelled`)', jobSchema),
    400: error('Invalid id'),
    404: error('No such job'),
    409: error('The job has already finished'),
  },
});

export function registerJobRoutes(app: App): void {
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    return c.json(await listJobs(c.get('deps').db, q), 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const job = await getJob(c.get('deps').db, id);
    if (!job) throw notFound('job', id);
    return c.json(job, 200);
  });

  app.openapi(cancelRoute, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const job = await getJob(deps.db, id);
    if (!job) throw notFound('job', id);
    if (isFinished(job.state)) throw new AppError('conflict', 409, `Job ${id} has already finished (${job.state})`, { state: job.state });
    await cancelJob(deps, job.kind, id);
    const after = await getJob(deps.db, id);
    if (!after) throw notFound('job', id);
    // The job may have finished between the read and the cancel: say so rather than pretend.
    if (after.state !== 'cancelled') throw new AppError('conflict', 409, `Job ${id} finished (${after.state}) before it could be cancelled`, { state: after.state });
    return c.json(after, 200);
  });
}
