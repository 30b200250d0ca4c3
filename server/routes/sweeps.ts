/**
 * Hyperparameter sweeps: `POST /api/sweeps` (checks the space and queues its
 * `sweep.run` coordinator, workers/sweep.ts), `GET /api/sweeps`, `GET
 * /api/sweeps/{id}` (its trials, the best marked, and each param's
 * importance), `POST /api/sweeps/{id}/cancel`, `DELETE /api/sweeps/{id}`
 * (its trainings stay), and from a trial `POST
 * /api/sweeps/{id}/trials/{number}/template` (a training template of its
 * config) and `.../train` (an ordinary training of its config at full
 * length).
 *
 * A trial's config is resolved and checked as `POST /api/trainings` does
 * (server/artifacts/trainings.ts): here every corner of the space at once,
 * so that no trial the coordinator proposes can be refused.
 */
import { createRoute } from '@hono/zod-openapi';
import {
  createdSweepSchema,
  createSweepSchema,
  SWEEP_LIMITS,
  sweepDetailSchema,
  sweepIdParamSchema,
  sweepListQuerySchema,
  sweepListSchema,
  sweepSchema,
  sweepTrialParamSchema,
  trialTemplateSchema,
  trialTrainSchema,
  type SweepSpec,
} from '../../models/contracts/sweeps.ts';
import { createdTrainingSchema, DEFAULT_PURPOSE, trainingTemplateSchema, type TrainConfigInput } from '../../models/contracts/trainings.ts';
import { estimateTrainingMemory } from '../../models/memory.ts';
import { checkAgainstStore, mergeTrainConfig, resolveTrainConfig, type StoredHook } from '../../models/sae/config.ts';
import { totalStepsOf } from '../../models/sae/train.ts';
import { SettingsError } from '../../models/settings-error.ts';
import { gridSize, type SearchSpace } from '../../models/sweep/space.ts';
import { spaceCorners, trialConfig, type Corner } from '../../models/sweep/trials.ts';
import { deleteSweep, getSweep, insertSweep, listSweeps, listTrials, SWEEP_QUEUE, updateSweep, type SweepRow, type TrialRow } from '../../db/queries/sweeps.ts';
import { getTemplate } from '../../db/queries/templates.ts';
import { cancelSweep } from '../artifacts/index.ts';
import { sendJob } from '../artifacts/send-job.ts';
import { sweepDetail, toSweep } from '../artifacts/sweeps.ts';
import { checkTrainingConfig, queueTraining, trainingSource } from '../artifacts/trainings.ts';
import { AppError } from '../errors.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import { saveTemplate } from './templates.ts';
import type { App, AppDeps } from '../app.ts';

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/sweeps',
  summary: 'Starts a hyperparameter sweep: trials of one hook point of a completed extraction, each an ordinary training of the base config with the trial\'s params over it; a `sweep.run` job proposes, prunes and scores them',
  description: `\`space\`: training config keys (not metricsEvery, checkpointEvery, evalEvery, evalWindows) to \`{type: float|int, min, max, log?, points?}\` or \`{type: choice, values}\`. \`method\`: grid (every point, in order), random or tpe (default). \`objective\`: \`{metric, direction?, constraints: [{metric, op: <=|>=, value}]}\` over the metric registry. \`budget\`: trials (grid: at most, and by default, its size; else default ${SWEEP_LIMITS.DEFAULT_BUDGET}); \`parallelism\`: trials training at once (default ${SWEEP_LIMITS.DEFAULT_PARALLELISM}). \`pruner\`: the median rule, on by default for random and tpe, warm-up a third of the base config's steps, ${SWEEP_LIMITS.DEFAULT_MIN_TRIALS} completed trials. Every corner of the space (each range's min and max, each choice) must give a config the stored activations and the largest worker can hold; a 400 or 422 names it (\`space.k.max\`).`,
  request: { body: jsonBody(createSweepSchema) },
  responses: {
    202: json('The queued sweep and its job', createdSweepSchema),
    400: error('Invalid body, or a corner of the space the activations cannot satisfy (the details name the field: `space.k.max`, `objective.metric`, `budget`, …)'),
    422: error('A corner of the space would need more memory than the largest worker has (`insufficient_memory`; the details name it)'),
    503: error('The job could not be queued'),
  },
});

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/sweeps',
  summary: 'Sweeps, newest first, with their spec, status and progress (trials by status and the best so far)',
  request: { query: sweepListQuerySchema },
  responses: { 200: json('Sweeps', sweepListSchema), 400: error('Invalid query') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/sweeps/{id}',
  summary: 'One sweep: its trials (params, status, objective, score, whether it keeps the constraints, its training\'s progress and primary metrics; the best marked) and each param\'s importance over the completed trials',
  request: { params: sweepIdParamSchema },
  responses: { 200: json('The sweep', sweepDetailSchema), 400: error('Invalid id'), 404: error('No such sweep') },
});

const cancelRouteDef = createRoute({
  method: 'post',
  path: '/api/sweeps/{id}/cancel',
  summary: 'Cancels a queued or running sweep: no trial is started after, and the running trials are cancelled with their trainings (which keep their checkpoints)',
  request: { params: sweepIdParamSchema },
  responses: { 200: json('The cancelled sweep', sweepSchema), 400: error('Invalid id'), 404: error('No such sweep'), 409: error('It has already finished') },
});

const deleteRouteDef = createRoute({
  method: 'delete',
  path: '/api/sweeps/{id}',
  summary: 'Deletes a sweep and its trials, cancelling it first when it runs; the trials\' trainings and SAEs stay',
  request: { params: sweepIdParamSchema },
  responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such sweep') },
});

const templateRouteDef = createRoute({
  method: 'post',
  path: '/api/sweeps/{id}/trials/{number}/template',
  summary: 'Saves a training template of a trial: the sweep\'s hook point, and its base config with the trial\'s params over it',
  request: { params: sweepTrialParamSchema, body: jsonBody(trialTemplateSchema) },
  responses: {
    201: json('The template', trainingTemplateSchema),
    400: error('Invalid id, number or body'),
    404: error('No such sweep or trial'),
    409: error('A template has this name already, or there are too many'),
  },
});

const trainRouteDef = createRoute({
  method: 'post',
  path: '/api/sweeps/{id}/trials/{number}/train',
  summary: 'Starts an ordinary training of a trial\'s config at full length: `totalTokens` from the body, else the base config\'s, else one pass over the stored rows; purpose the body\'s, else the sweep\'s without its `sweep ` prefix',
  request: { params: sweepTrialParamSchema, body: jsonBody(trialTrainSchema) },
  responses: {
    202: json('The queued training and its job', createdTrainingSchema),
    400: error('Invalid id, number or body, or a config the activations cannot satisfy'),
    404: error('No such sweep or trial'),
    409: error('The sweep\'s activations no longer hold its hook point'),
    422: error('The training would need more memory than the largest worker has'),
    503: error('The job could not be queued'),
  },
});

/** The request's field a config field of a corner comes from: `space.k.max` when the space varies it, else `base.k`. */
function fieldOf(configField: string, corner: Corner): string {
  const key = configField.replace(/^config\./, '');
  const at = corner.at[key];
  return at ? `space.${key}.${at}` : `base.${key}`;
}

/** A corner in words, for messages: "at k=128, dSae=64". */
const where = (corner: Corner) => `at ${Object.entries(corner.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`;

/**
 * Checks every corner of `space` over `base` as `POST /api/trainings` checks
 * a config (server/artifacts/trainings.ts checkTrainingConfig): the corner
 * that takes the most memory against the largest worker, then every corner
 * against the stored activations. Throws the same 400 or 422, naming the
 * corner's field ({@link fieldOf}).
 */
async function checkCorners(db: AppDeps['db'], space: SearchSpace, base: TrainConfigInput, hook: StoredHook): Promise<void> {
  const corners = spaceCorners(space).map((corner) => ({ corner, config: resolveTrainConfig([trialConfig(base, corner.params)], hook.rows) }));
  const bytes = corners.map((c) => estimateTrainingMemory(c.config, [hook]).bytes);
  const largest = corners[bytes.indexOf(Math.max(...bytes))]!;
  const check = async (c: (typeof corners)[number], f: () => Promise<void> | void) => {
    try {
      await f();
    } catch (err) {
      if (err instanceof SettingsError) throw fieldError(fieldOf(err.field, c.corner), `${err.reason} (${where(c.corner)})`);
      if (err instanceof AppError && err.code === 'insufficient_memory') {
        const [detail] = err.details as { field: string }[];
        throw new AppError(err.code, err.status, `${err.message} (${where(c.corner)})`, [{ field: fieldOf(detail!.field, c.corner), message: err.message }]);
      }
      throw err;
    }
  };
  await check(largest, () => checkTrainingConfig(db, largest.config, [hook]));
  for (const c of corners) await check(c, () => checkAgainstStore(c.config, [hook]));
}

/** The sweep and its trial `number`, or a 404 naming `id` or `number`. */
async function trialOf(db: AppDeps['db'], id: string, number: number): Promise<{ sweep: SweepRow; trial: TrialRow }> {
  const sweep = await getSweep(db, id);
  if (!sweep) throw notFound('sweep', id);
  const trial = (await listTrials(db, id)).find((t) => t.number === number);
  if (!trial) throw notFound(`trial of sweep ${id} numbered`, String(number), 'number');
  return { sweep, trial };
}

export function registerSweepRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const template = body.templateId ? await getTemplate(deps.db, 'training', body.templateId) : undefined;
    if (body.templateId && !template) throw fieldError('templateId', `no template ${body.templateId}`);
    const { extraction, stored } = await trainingSource(deps, body.extractionId);
    const hookPoint = body.hookPoint ?? stored[0]!.hook;
    const hook = stored.find((h) => h.hook === hookPoint);
    if (!hook) throw fieldError('hookPoint', `${hookPoint} is not in extraction ${extraction.id} (it has ${stored.map((s) => s.hook).join(', ')})`);
    const base = mergeTrainConfig([body.base, template?.settings.config]);
    await checkCorners(deps.db, body.space, base, hook);
    const name = body.name ?? `${body.method} over ${Object.keys(body.space).join(', ')}`;
    const spec: SweepSpec = {
      hookPoint,
      base,
      templateId: body.templateId ?? null,
      purpose: body.purpose ?? `sweep ${name}`.slice(0, 100).trim(),
      space: body.space,
      method: body.method,
      seed: body.seed,
      objective: body.objective,
      budget: body.budget ?? (body.method === 'grid' ? gridSize(body.space) : SWEEP_LIMITS.DEFAULT_BUDGET),
      parallelism: body.parallelism,
      pruner: {
        enabled: body.pruner?.enabled ?? body.method !== 'grid',
        warmupSteps: body.pruner?.warmupSteps ?? Math.floor(totalStepsOf(resolveTrainConfig([base], hook.rows)) / 3),
        minTrials: body.pruner?.minTrials ?? SWEEP_LIMITS.DEFAULT_MIN_TRIALS,
      },
    };
    const row = await insertSweep(deps.db, { name, extractionId: extraction.id, spec });
    const jobId = await sendJob(deps.boss, SWEEP_QUEUE, { sweepId: row.id }, 'sweep', () => deleteSweep(deps.db, row.id));
    const sweep = (await updateSweep(deps.db, row.id, { jobId })) ?? row;
    return c.json({ sweep: toSweep(sweep), job: { id: jobId, kind: SWEEP_QUEUE } }, 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const rows = await listSweeps(c.get('deps').db, c.req.valid('query'));
    return c.json({ sweeps: rows.map((r) => toSweep(r)) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const { db } = c.get('deps');
    const row = await getSweep(db, id);
    if (!row) throw notFound('sweep', id);
    return c.json(await sweepDetail(db, row), 200);
  });

  app.openapi(cancelRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getSweep(deps.db, id);
    if (!row) throw notFound('sweep', id);
    if (!(await cancelSweep(deps, id))) throw new AppError('conflict', 409, `Sweep ${id} is ${(await getSweep(deps.db, id))?.status ?? row.status}: only a queued or running sweep can be cancelled`, { status: row.status });
    return c.json(toSweep((await getSweep(deps.db, id)) ?? row), 200);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    if (!(await getSweep(deps.db, id))) throw notFound('sweep', id);
    await cancelSweep(deps, id);
    await deleteSweep(deps.db, id);
    return c.body(null, 204);
  });

  app.openapi(templateRouteDef, async (c) => {
    const { id, number } = c.req.valid('param');
    const { name } = c.req.valid('json');
    const { db } = c.get('deps');
    const { sweep, trial } = await trialOf(db, id, number);
    return c.json(await saveTemplate(db, 'training', { name, settings: { hookPoints: [sweep.spec.hookPoint], config: trialConfig(sweep.spec.base, trial.params) } }), 201);
  });

  app.openapi(trainRouteDef, async (c) => {
    const { id, number } = c.req.valid('param');
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const { sweep, trial } = await trialOf(deps.db, id, number);
    const { spec } = sweep;
    const { stored } = await trainingSource(deps, sweep.extractionId);
    const hook = stored.find((h) => h.hook === spec.hookPoint);
    if (!hook) throw new AppError('conflict', 409, `The activations of extraction ${sweep.extractionId} no longer hold ${spec.hookPoint}`);
    const config = resolveTrainConfig([{ totalTokens: body.totalTokens }, trialConfig(spec.base, trial.params)], hook.rows);
    await checkTrainingConfig(deps.db, config, [hook]);
    const purpose = body.purpose ?? (spec.purpose.replace(/^sweep\s+/, '') || DEFAULT_PURPOSE);
    const created = await queueTraining(deps, { name: body.name ?? `${sweep.name} #${number}, full length`, extractionId: sweep.extractionId, hookPoints: [hook.hook], config, purpose });
    return c.json(created, 202);
  });
}
