/**
 * SAE trainings: `POST /api/trainings` (queue a `sae.train` job: one SAE per
 * hook point of an extraction), `GET /api/trainings` (the history, with
 * status, progress and queue position), `GET /api/trainings/{id}` (config,
 * progress, each hook's checkpoint, latest metrics and SAE),
 * `GET /api/trainings/{id}/metrics` (the metric history, for charts),
 * `POST /api/trainings/{id}/pause|resume|stop|retry`, `DELETE
 * /api/trainings/{id}`. Their templates (saved presets) are
 * server/routes/templates.ts.
 *
 * Controls: a pause or stop of a running training is written to its row
 * (`control`), which the job reads between steps: pause writes checkpoints
 * and ends the job (status paused); stop also saves the SAEs from the current
 * weights (status completed, `stopped`). Resume and retry send a new job,
 * which continues from the checkpoints.
 */
import { createRoute } from '@hono/zod-openapi';
import {
  createdTrainingSchema,
  createTrainingSchema,
  metricsPageSchema,
  metricsQuerySchema,
  trainingControlResultSchema,
  trainingDetailSchema,
  trainingIdParamSchema,
  trainingListQuerySchema,
  trainingListSchema,
} from '../../models/contracts/trainings.ts';
import { defaultTrainingName, resolveTrainConfig, toTrainConfig } from '../../models/sae/config.ts';
import { resolveDSae, totalStepsOf } from '../../models/sae/train.ts';
import { listSaes } from '../../db/queries/saes.ts';
import { getTemplate } from '../../db/queries/templates.ts';
import { deleteTraining, getTraining, latestMetrics, listMetrics, listTrainings, queuePositions, updateTraining, type TrainingRow } from '../../db/queries/trainings.ts';
import { cancelUnfinishedJob } from '../artifacts/index.ts';
import { checkTrainingConfig, publishTrainingStatus, queueTraining, resendTrainingJob, toTraining, trainingSource, TRAIN } from '../artifacts/trainings.ts';
import { AppError } from '../errors.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import type { App, AppDeps } from '../app.ts';

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/trainings',
  summary: 'Starts a training: one SAE per hook point of a completed extraction, in one pass over its activations; a `sae.train` job runs it',
  description:
    'Config left out comes from `templateId` when given, else its default: architecture topk, k 32, expansionFactor 8, lr 4e-4 (no warm-up, linear decay over the last 20 %), Adam betas 0.9/0.999, batchSize 1024, totalTokens one pass over the stored rows, inputs normalised, b_dec at the mean, L1 coefficient 5 (ReLU), dead after 1,000,000 tokens without firing, seed 42, metrics every 10 steps, checkpoints and evaluations every 500, CE-loss recovered on 4 windows. Hook points left out: the template\'s, else every hook of the extraction.',
  request: { body: jsonBody(createTrainingSchema) },
  responses: {
    202: json('The queued training and its job', createdTrainingSchema),
    400: error('Invalid body, or config the activations cannot satisfy (the details name the field)'),
    422: error('The training would need more memory than the largest worker has (`insufficient_memory`; the details name the field to lower)'),
    503: error('The job could not be queued'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/trainings',
  summary: 'The history of trainings, newest first, with config, status, progress and queue position; filtered by extraction or status',
  request: { query: trainingListQuerySchema },
  responses: { 200: json('Trainings', trainingListSchema), 400: error('Invalid query') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/trainings/{id}',
  summary: 'One training: config, progress, and per hook point its SAE size, last checkpoint, latest metrics and evaluation, and the SAE it produced',
  request: { params: trainingIdParamSchema },
  responses: { 200: json('The training', trainingDetailSchema), 400: error('Invalid id'), 404: error('No such training') },
});

const metricsRouteDef = createRoute({
  method: 'get',
  path: '/api/trainings/{id}/metrics',
  summary: 'The metric history of a training, by step then hook: training metrics (loss, MSE, L1, L0, explained variance, dead and dense fractions, lr, tokens/s) and evaluations (density histogram, CE-loss recovered); page with `after` = the previous page\'s `next`',
  request: { params: trainingIdParamSchema, query: metricsQuerySchema },
  responses: { 200: json('A page of metric points', metricsPageSchema), 400: error('Invalid id or query'), 404: error('No such training') },
});

const control = (action: 'pause' | 'resume' | 'stop' | 'retry', summary: string, conflict: string) =>
  createRoute({
    method: 'post',
    path: `/api/trainings/{id}/${action}`,
    summary,
    request: { params: trainingIdParamSchema },
    responses: { 202: json('The training, and the job sent for it (null when none was)', trainingControlResultSchema), 400: error('Invalid id'), 404: error('No such training'), 409: error(conflict) },
  });

const pauseRouteDef = control('pause', 'Pauses a queued or running training: it writes a checkpoint within a step and its job ends (status paused)', 'It is not queued or running');
const resumeRouteDef = control('resume', 'Resumes a paused training: a new `sae.train` job continues from its checkpoints', 'It is not paused');
const stopRouteDef = control(
  'stop',
  'Stops a queued, running or paused training early: it writes a checkpoint and saves each SAE from its current weights (status completed, `stopped` true)',
  'It has already finished',
);
const retryRouteDef = control('retry', 'Runs a failed or cancelled training again from its last checkpoints', 'It is not failed or cancelled');

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/trainings/{id}',
  summary: 'Deletes a training, its metric history and its checkpoints, cancelling it first when it runs; the SAEs it produced stay (unlinked)',
  request: { params: trainingIdParamSchema },
  responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such training') },
});

function conflict(row: TrainingRow, what: string): AppError {
  return new AppError('conflict', 409, `Training ${row.id} is ${row.status}: ${what}`, { status: row.status });
}

export function registerTrainingRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const template = body.templateId ? await getTemplate(deps.db, 'training', body.templateId) : undefined;
    if (body.templateId && !template) throw fieldError('templateId', `no template ${body.templateId}`);
    const { extraction, stored } = await trainingSource(deps, body.extractionId);
    const hookPoints = body.hookPoints ?? template?.settings.hookPoints ?? stored.map((h) => h.hook);
    const hooks = hookPoints.map((name, i) => {
      const h = stored.find((s) => s.hook === name);
      if (!h) throw fieldError(`hookPoints.${i}`, `${name} is not in extraction ${extraction.id} (it has ${stored.map((s) => s.hook).join(', ')})`);
      return h;
    });
    const config = resolveTrainConfig([body.config, template?.settings.config], Math.min(...hooks.map((h) => h.rows)));
    await checkTrainingConfig(deps.db, config, hooks);
    return c.json(await queueTraining(deps, { name: body.name ?? defaultTrainingName(config, hookPoints), extractionId: extraction.id, hookPoints, config, purpose: body.purpose }), 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const q = c.req.valid('query');
    const { db } = c.get('deps');
    const [rows, positions] = await Promise.all([listTrainings(db, q), queuePositions(db)]);
    return c.json({ trainings: rows.map((r) => toTraining(r, positions)) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getTraining(deps.db, id);
    if (!row) throw notFound('training', id);
    const [positions, latest, made, stored] = await Promise.all([
      queuePositions(deps.db),
      latestMetrics(deps.db, id),
      listSaes(deps.db, { trainingId: id, limit: 500 }),
      deps.extractions.summary(row.extractionId).catch(() => null),
    ]);
    const hooks = row.hookPoints.map((hook) => {
      const h = stored?.hooks.find((s) => s.hook === hook);
      return {
        hook,
        dIn: h?.d ?? null,
        dSae: h ? resolveDSae(toTrainConfig(row.config), h.d) : null,
        checkpoint: row.progress?.checkpoints.find((k) => k.hook === hook) ?? null,
        latest: latest.get(hook)?.latest ?? null,
        latestEval: latest.get(hook)?.latestEval ?? null,
        saeId: made.find((s) => s.hookPoint === hook)?.id ?? null,
      };
    });
    return c.json({ ...toTraining(row, positions), totalSteps: totalStepsOf(row.config), hooks }, 200);
  });

  app.openapi(metricsRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const { db } = c.get('deps');
    if (!(await getTraining(db, id))) throw notFound('training', id);
    return c.json(await listMetrics(db, id, q), 200);
  });

  /** Answers a control with the training after it and the job sent, if any. */
  const answer = async (deps: AppDeps, id: string, job: string | null) => {
    const after = await getTraining(deps.db, id);
    if (!after) throw notFound('training', id);
    return { training: toTraining(after, await queuePositions(deps.db)), job: job ? { id: job, kind: TRAIN } : null };
  };

  app.openapi(pauseRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getTraining(deps.db, id);
    if (!row) throw notFound('training', id);
    if (row.status === 'queued') {
      // Not started (or waiting for a retry): paused at once, its job cancelled; a job that starts anyway finds it paused and skips.
      const paused = await updateTraining(deps.db, id, { status: 'paused', control: null, error: null }, ['queued']);
      if (paused) {
        await cancelUnfinishedJob(deps, paused.jobId);
        await publishTrainingStatus(deps.events, paused);
        return c.json(await answer(deps, id, null), 202);
      }
    }
    // Running (or started meanwhile): the job reads the request within a step.
    const asked = await updateTraining(deps.db, id, { control: 'pause' }, ['running']);
    if (!asked) throw conflict((await getTraining(deps.db, id)) ?? row, 'only a queued or running training can be paused');
    return c.json(await answer(deps, id, null), 202);
  });

  app.openapi(resumeRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getTraining(deps.db, id);
    if (!row) throw notFound('training', id);
    const queued = await updateTraining(deps.db, id, { status: 'queued', control: null, error: null }, ['paused']);
    if (!queued) throw conflict(row, 'only a paused training can be resumed');
    const job = await resendTrainingJob(deps, queued, 'paused');
    await publishTrainingStatus(deps.events, (await getTraining(deps.db, id)) ?? queued);
    return c.json(await answer(deps, id, job), 202);
  });

  app.openapi(stopRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getTraining(deps.db, id);
    if (!row) throw notFound('training', id);
    let job: string | null = null;
    // Paused: a job is sent that loads the checkpoints and saves the SAEs at once.
    const fromPause = await updateTraining(deps.db, id, { status: 'queued', control: 'stop', error: null }, ['paused']);
    if (fromPause) {
      job = await resendTrainingJob(deps, fromPause, 'paused');
      await publishTrainingStatus(deps.events, (await getTraining(deps.db, id)) ?? fromPause);
    } else if (!(await updateTraining(deps.db, id, { control: 'stop' }, ['queued', 'running']))) {
      throw conflict((await getTraining(deps.db, id)) ?? row, 'it has already finished');
    }
    return c.json(await answer(deps, id, job), 202);
  });

  app.openapi(retryRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getTraining(deps.db, id);
    if (!row) throw notFound('training', id);
    const queued = await updateTraining(deps.db, id, { status: 'queued', control: null, error: null, finishedAt: null }, ['failed', 'cancelled']);
    if (!queued) throw conflict(row, 'only a failed or cancelled training can be retried');
    const job = await resendTrainingJob(deps, queued, row.status);
    await publishTrainingStatus(deps.events, (await getTraining(deps.db, id)) ?? queued);
    return c.json(await answer(deps, id, job), 202);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getTraining(deps.db, id);
    if (!row) throw notFound('training', id);
    await cancelUnfinishedJob(deps, row.jobId);
    const keep = (await listSaes(deps.db, { trainingId: id, limit: 500 })).map((s) => s.path);
    await deleteTraining(deps.db, id);
    // The job stops within a step of the cancel and writes nothing after it: its folder goes, but for the SAEs it produced.
    await deps.saes.removeTraining(id, keep);
    return c.body(null, 204);
  });
}
