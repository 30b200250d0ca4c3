/**
 * Feature discoveries: `POST /api/discoveries` (queue a `features.discover`
 * job: an SAE over an extraction's stored activations, or over a dataset's
 * text run through the SAE's model; its completion replaces the SAE's
 * features), `GET /api/discoveries?sae=` (newest first),
 * `GET /api/discoveries/{id}` (status and progress; live on topic
 * `discovery/{id}`), `DELETE /api/discoveries/{id}` (cancels it when it runs,
 * then deletes the row; the features a completed one wrote stay).
 */
import { createRoute } from '@hono/zod-openapi';
import { hookPoints as hookPointsOf } from '../../models/architectures/decoder.ts';
import { familyOf } from '../../models/architectures/index.ts';
import { createDiscoverySchema, discoveryIdParamSchema, discoveryListQuerySchema, discoveryListSchema, discoverySchema, FEATURE_LIMITS, type DiscoveryText } from '../../models/contracts/features.ts';
import { planText, textSettings } from '../../models/features/sources.ts';
import type { ArchSpec } from '../../models/architectures/spec.ts';
import { estimateDiscoveryMemory } from '../../models/memory.ts';
import type { ModelDtype } from '../../models/quantize.ts';
import { SettingsError } from '../../models/settings-error.ts';
import { sameTokenizer } from '../../models/tokenizer.ts';
import { deleteDiscovery, getDiscovery, listDiscoveries } from '../../db/queries/discoveries.ts';
import { getExtraction } from '../../db/queries/extractions.ts';
import { getDataset } from '../../db/queries/datasets.ts';
import { getModel } from '../../db/queries/models.ts';
import { getSae, type SaeRow } from '../../db/queries/saes.ts';
import { getTraining } from '../../db/queries/trainings.ts';
import { DISCOVER, queueDiscovery } from '../artifacts/discoveries.ts';
import { cancelUnfinishedJob } from '../artifacts/index.ts';
import { checkJobMemory } from '../job-memory.ts';
import { error, fieldError, json, jsonBody, notFound } from '../responses.ts';
import type { App, AppDeps } from '../app.ts';

const createRouteDef = createRoute({
  method: 'post',
  path: '/api/discoveries',
  summary: "Discovers an SAE's features: per feature its activation frequency, max and mean, histogram, top-k contexts with per-token values, a heuristic label and score (and an LLM label when Settings name an endpoint); a `features.discover` job runs it and replaces the SAE's features when it completes",
  description:
    "Over stored activations: extractionId (default: the extraction the SAE was trained on), completed and holding the SAE's hook point. Over text: datasetId, a completed dataset tokenized with the SAE's model's tokenizer; its windows (contextLength tokens, default the SAE's context size or 128; packed back to back as an extraction packs them) go through the SAE's model up to the hook, maxTokens tokens at most (default 1,000,000), and no activation store is written. Not both. topK 10 examples a feature, 16 tokens before and 4 after each peak.",
  request: { body: jsonBody(createDiscoverySchema) },
  responses: {
    202: json('The queued discovery', discoverySchema),
    400: error('Invalid body (extractionId and datasetId both given, maxTokens or contextLength without datasetId), an SAE without a usable extraction, an extraction without its hook, a dataset not tokenized with the SAE\'s model\'s tokenizer, or windows the model or dataset cannot hold (the details name the field)'),
    422: error('The discovery would need more memory than the largest worker has (`insufficient_memory`; the details name the field to lower)'),
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

/**
 * Checks a discovery of `sae` over the text of dataset `datasetId`: the
 * dataset is completed and tokenized with the SAE's model's tokenizer, the
 * model has the SAE's hook with d_in values a token, the windows fit the
 * model and the dataset. Returns the window settings with their defaults.
 */
async function checkText(deps: AppDeps, sae: SaeRow, datasetId: string, body: { maxTokens?: number | undefined; contextLength?: number | undefined }): Promise<{ text: DiscoveryText; model: { spec: ArchSpec; dtype: ModelDtype } }> {
  const dataset = await getDataset(deps.db, datasetId);
  if (!dataset) throw fieldError('datasetId', `no dataset ${datasetId}`);
  if (dataset.status !== 'completed' || !dataset.stats || !dataset.path) throw fieldError('datasetId', `${dataset.name} is ${dataset.status}: discover features over its text once it is tokenized`);
  const model = sae.modelId ? await getModel(deps.db, sae.modelId) : undefined;
  if (!model) throw fieldError('saeId', `SAE ${sae.name} has no model${sae.modelId ? ' any more' : ''}: a discovery over text runs the SAE's model; give an extraction instead`);
  if (model.status !== 'completed' || !model.config || !model.path) throw fieldError('saeId', `${model.name}, the SAE's model, is ${model.status}: discover over text once its files are in`);
  const tokenizer = dataset.tokenizerModelId ? await getModel(deps.db, dataset.tokenizerModelId) : undefined;
  if (!tokenizer?.path) throw fieldError('datasetId', `${dataset.name} was tokenized by a model that was deleted since: its tokens cannot be checked against ${model.name}'s tokenizer`);
  if (tokenizer.id !== model.id && !(await sameTokenizer(tokenizer.path, model.path))) {
    throw fieldError('datasetId', `${dataset.name} was tokenized with ${tokenizer.name}'s tokenizer; the SAE's model ${model.name} has another: tokenize the dataset with ${model.name}`);
  }
  let spec: ArchSpec;
  try {
    // checked against models/architectures/limits.ts before anything is sized from it
    spec = familyOf(model.config).spec(model.config);
  } catch (err) {
    throw fieldError('saeId', `${model.name}, the SAE's model: ${err instanceof Error ? err.message : String(err)}`);
  }
  const saeContext = typeof sae.cfg.context_size === 'number' && Number.isInteger(sae.cfg.context_size) && sae.cfg.context_size >= 2 ? sae.cfg.context_size : null;
  const contextLength = body.contextLength ?? Math.min(saeContext ?? FEATURE_LIMITS.DEFAULT_TEXT_CONTEXT, spec.contextLength);
  const text: DiscoveryText = { contextLength, maxTokens: body.maxTokens ?? FEATURE_LIMITS.DEFAULT_TEXT_TOKENS };
  try {
    planText(text, {
      hookPoints: hookPointsOf(spec),
      hook: sae.hookPoint,
      dIn: sae.dIn,
      modelContext: spec.contextLength,
      modelVocab: spec.vocabSize,
      dataset: { tokens: dataset.stats.tokens, vocabSize: dataset.stats.vocabSize, addsBos: dataset.settings.addBos ?? false },
    });
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    throw fieldError('saeId', `${model.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { text, model: { spec, dtype: model.dtype } };
}

/** A 422 when the discovery cannot fit in the largest worker's memory (over text, with its model's forward pass). */
async function checkMemory(deps: AppDeps, sae: SaeRow, settings: { topK: number; left: number; right: number }, text: { text: DiscoveryText; model: { spec: ArchSpec; dtype: ModelDtype } } | null): Promise<void> {
  const model = text ? { spec: text.model.spec, dtype: text.model.dtype, batchSize: textSettings(text.text, text.model.dtype).batchSize, contextLength: text.text.contextLength } : null;
  await checkJobMemory(deps.db, DISCOVER, estimateDiscoveryMemory({ dIn: sae.dIn, dSae: sae.dSae, ...settings }, model), 'This discovery');
}

export function registerDiscoveryRoutes(app: App): void {
  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const sae = await getSae(deps.db, body.saeId);
    if (!sae) throw fieldError('saeId', `no SAE ${body.saeId}`);
    const settings = { topK: body.topK, left: body.left, right: body.right };
    if (body.datasetId) {
      const checked = await checkText(deps, sae, body.datasetId, body);
      await checkMemory(deps, sae, settings, checked);
      return c.json(await queueDiscovery(deps, { saeId: sae.id, datasetId: body.datasetId, text: checked.text, settings }), 202);
    }
    let extractionId = body.extractionId;
    if (!extractionId) {
      const training = sae.trainingId ? await getTraining(deps.db, sae.trainingId) : undefined;
      if (!training) throw fieldError('extractionId', `SAE ${sae.id} was not trained here (or its training was deleted): give the extraction to run it over`);
      extractionId = training.extractionId;
    }
    const extraction = await getExtraction(deps.db, extractionId);
    if (!extraction) throw fieldError('extractionId', `no extraction ${extractionId}`);
    if (extraction.status !== 'completed') throw fieldError('extractionId', `extraction ${extractionId} is ${extraction.status}: discover features once it has completed`);
    const summary = await deps.extractions.summary(extraction.id).catch(() => null);
    if (!summary?.complete) throw fieldError('extractionId', `the activations of extraction ${extraction.id} are ${summary ? 'incomplete' : 'gone'}`);
    const hook = summary.hooks.find((h) => h.hook === sae.hookPoint);
    if (!hook) throw fieldError('extractionId', `extraction ${extraction.id} has no activations at ${sae.hookPoint}, the SAE's hook point (it has ${summary.hooks.map((h) => h.hook).join(', ')})`);
    if (hook.d !== sae.dIn) throw fieldError('extractionId', `extraction ${extraction.id} stores ${hook.d} values a row at ${sae.hookPoint}; the SAE takes ${sae.dIn}`);
    await checkMemory(deps, sae, settings, null);

    return c.json(await queueDiscovery(deps, { saeId: sae.id, extractionId: extraction.id, settings }), 202);
  });

  app.openapi(listRouteDef, async (c) => {
    const q = c.req.valid('query');
    return c.json({ discoveries: await listDiscoveries(c.get('deps').db, { saeId: q.sae, limit: q.limit }) }, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const row = await getDiscovery(c.get('deps').db, id);
    if (!row) throw notFound('discovery', id);
    return c.json(row, 200);
  });

  app.openapi(deleteRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const row = await getDiscovery(deps.db, id);
    if (!row) throw notFound('discovery', id);
    await cancelUnfinishedJob(deps, row.jobId);
    await deleteDiscovery(deps.db, id);
    // the job stops within a chunk of rows and writes nothing after the cancel; a retry left waiting has staged files
    await deps.features.removeDiscovery(id);
    return c.body(null, 204);
  });
}
