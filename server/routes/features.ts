/**
 * Features of an SAE and their analyses:
 *
 * - `GET /api/features?sae=&q=&token=&minFreq=&maxFreq=&favourite=&sort=&limit=&offset=`:
 *   a page of the SAE's features, filtered, sorted and paged in PostgreSQL
 *   (db/queries/features.ts); `token` is a display string (" Moses") matched
 *   to ids through the model's tokenizer, or `#123`.
 * - `GET /api/features/{saeId}:{index}`: statistics, histogram, top examples
 *   with each token's text and activation, labels; `PATCH` edits the label,
 *   favourite and notes; `POST …/label` asks the LLM of Settings now.
 * - `GET …/logit-lens`, `…/correlations`, `…/ablation`: a fresh cached result
 *   answers at once (`cached: true`); otherwise a `features.analyze` job is
 *   sent (one per cache key: requests for the same analysis share it) and
 *   the request waits for its result up to ANALYSIS_WAIT_MS, then answers
 *   202 `{jobId}` and the client asks the same URL again.
 */
import { createRoute } from '@hono/zod-openapi';
import type { z } from 'zod';
import {
  ablationQuerySchema,
  ablationSchema,
  analysisPendingSchema,
  correlationsQuerySchema,
  correlationsSchema,
  featureDetailSchema,
  featureId,
  featureIdParamSchema,
  featureListQuerySchema,
  featureListSchema,
  featurePatchSchema,
  logitLensQuerySchema,
  logitLensSchema,
  parseFeatureId,
  type FeatureDetail,
} from '../../models/contracts/features.ts';
import type { JobDevice } from '../../models/contracts/device.ts';
import { createLlmClient, LlmError, llmLabel } from '../../models/features/llm.ts';
import { extractionOfSae, modelDirOfSae } from '../../db/queries/discoveries.ts';
import { featureLabels, getFeature, listFeatures, patchFeature, saeOfFeatures, setLlmLabel } from '../../db/queries/features.ts';
import { getLlmSettings } from '../../db/queries/settings.ts';
import { analysis } from '../artifacts/analyses.ts';
import { textsOf, toDetail, toItem } from '../artifacts/features.ts';
import { AppError } from '../errors.ts';
import { llmFailure } from '../llm-errors.ts';
import { error, json, jsonBody, notFound } from '../responses.ts';
import type { App, AppDeps } from '../app.ts';

const pending = json('Still computing: ask the same URL again', analysisPendingSchema);

const listRouteDef = createRoute({
  method: 'get',
  path: '/api/features',
  summary: "A page of an SAE's features, searched by label (`q`, case-insensitive substring, or the word the top examples peak on), by the token their top examples peak on (`token`: as the tokenizer shows it, e.g. \" Moses\", or `#123`), by activation frequency (`minFreq`, `maxFreq`: fractions) and favourite; sorted by `frequency`, `score`, `max` or `index` (`-` for descending; default `-score`)",
  request: { query: featureListQuerySchema },
  responses: { 200: json('The matches and a page of them', featureListSchema), 400: error('Invalid query (the details name the field)'), 404: error('No such SAE') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: '/api/features/{id}',
  summary: 'One feature (`{saeId}:{index}`): statistics, activation histogram, top-activating examples with every token\'s activation, its labels and score, favourite and notes',
  request: { params: featureIdParamSchema },
  responses: { 200: json('The feature', featureDetailSchema), 400: error('Invalid id'), 404: error('No such SAE or feature (features exist once a discovery completed)') },
});

const patchRouteDef = createRoute({
  method: 'patch',
  path: '/api/features/{id}',
  summary: "Edits a feature: `label` (the user's; null goes back to the LLM's or heuristic one), `favourite`, `notes`",
  request: { params: featureIdParamSchema, body: jsonBody(featurePatchSchema) },
  responses: { 200: json('The feature after the edit', featureDetailSchema), 400: error('Invalid id or body (the details name the field)'), 404: error('No such feature') },
});

const labelRouteDef = createRoute({
  method: 'post',
  path: '/api/features/{id}/label',
  summary: "Labels a feature with the LLM of Settings now, from its top examples; a user's label stays shown",
  request: { params: featureIdParamSchema },
  responses: {
    200: json('The feature with its LLM label', featureDetailSchema),
    400: error('No LLM endpoint in Settings (`llm_not_configured`), or invalid id'),
    404: error('No such feature'),
    409: error('The feature has no examples to show the LLM'),
    502: error("The endpoint failed: its HTTP status and a generic reason (never its answer's body)"),
  },
});

/** The answers of an analysis route. */
const analysisResponses = <R extends z.ZodType>(schema: R) => ({
  200: json('The result, computed now or cached', schema),
  202: pending,
  400: error('Invalid id or query (the details name the field)'),
  404: error('No such SAE or feature'),
  409: error('What the analysis needs is missing (a model, stored activations, top examples: run a discovery)'),
  500: error('The analysis failed: the reason when it is one you can act on (e.g. no model), else a generic message with the job id (the details are in the worker log)'),
});

const lensRouteDef = createRoute({
  method: 'get',
  path: '/api/features/{id}/logit-lens',
  summary:
    "Logit lens: the feature's decoder direction read through the unembedding, the `k` tokens it promotes most and least. `norm=weight` (the default): the direction centred (LayerNorm families) and scaled by the final norm's gain; `norm=none`: W_dec[f]·W_U exactly. No bias is added and the direction is not normalised; values are before any logit soft-cap",
  request: { params: featureIdParamSchema, query: logitLensQuerySchema },
  responses: analysisResponses(logitLensSchema),
});

const correlationsRouteDef = createRoute({
  method: 'get',
  path: '/api/features/{id}/correlations',
  summary: "The `k` features whose activations correlate most positively and most negatively with this one's (Pearson, over up to 50,000 stored activation rows)",
  request: { params: featureIdParamSchema, query: correlationsQuerySchema },
  responses: analysisResponses(correlationsSchema),
});

const ablationRouteDef = createRoute({
  method: 'get',
  path: '/api/features/{id}/ablation',
  summary:
    "Zeroes (or clamps to `value`) the feature inside the forward pass at its hook, the SAE's error term kept, on its top `examples` contexts: the loss and perplexity before and after, the change per position, and the next-token probabilities that moved most",
  request: { params: featureIdParamSchema, query: ablationQuerySchema },
  responses: analysisResponses(ablationSchema),
});

/** The SAE and the feature of an id, or 404s. */
async function load(deps: AppDeps, id: string) {
  const parsed = parseFeatureId(id);
  if (!parsed) throw new AppError('invalid_request', 400, `Invalid id: expected {saeId}:{index}`, [{ field: 'id', message: 'expected {saeId}:{index}' }]);
  const sae = await saeOfFeatures(deps.db, parsed.saeId);
  if (!sae) throw notFound('SAE', parsed.saeId);
  return { sae, index: parsed.index };
}

async function detailOf(deps: AppDeps, id: string): Promise<FeatureDetail> {
  const { sae, index } = await load(deps, id);
  const row = await getFeature(deps.db, sae.id, index);
  if (!row) throw notFound('feature', id);
  return toDetail(deps, sae, row);
}

export function registerFeatureRoutes(app: App): void {
  app.openapi(listRouteDef, async (c) => {
    const q = c.req.valid('query');
    const deps = c.get('deps');
    const sae = await saeOfFeatures(deps.db, q.sae);
    if (!sae) throw notFound('SAE', q.sae, 'sae');
    let tokenIds: number[] | undefined;
    if (q.token !== undefined) {
      const m = /^#(\d{1,9})$/.exec(q.token);
      if (m) tokenIds = [Number(m[1])];
      else {
        const modelDir = await modelDirOfSae(deps.db, sae.id);
        if (!modelDir) throw new AppError('invalid_request', 400, `Invalid query parameters: token: SAE ${sae.id} has no model whose tokenizer reads "${q.token}"; give a token id as #123`, [{ field: 'token', message: 'the SAE has no model: give a token id as #123' }]);
        tokenIds = await deps.features.tokenIds(modelDir, q.token);
      }
    }
    // the label search also finds the features whose top examples peak on the word searched for (" Moses" for "moses")
    let wordIds: number[] | undefined;
    if (q.q) {
      const modelDir = await modelDirOfSae(deps.db, sae.id);
      if (modelDir) wordIds = await deps.features.wordTokenIds(modelDir, q.q);
    }
    const page = await listFeatures(deps.db, q, tokenIds, wordIds);
    return c.json({ total: page.total, items: page.items.map(toItem) }, 200);
  });

  app.openapi(getRouteDef, async (c) => c.json(await detailOf(c.get('deps'), c.req.valid('param').id), 200));

  app.openapi(patchRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const deps = c.get('deps');
    const { sae, index } = await load(deps, id);
    if (!(await patchFeature(deps.db, sae.id, index, body))) throw notFound('feature', id);
    return c.json(await detailOf(deps, id), 200);
  });

  app.openapi(labelRouteDef, async (c) => {
    const { id } = c.req.valid('param');
    const deps = c.get('deps');
    const { sae, index } = await load(deps, id);
    const row = await getFeature(deps.db, sae.id, index);
    if (!row) throw notFound('feature', id);
    const llm = await getLlmSettings(deps.db);
    if (!llm) throw new AppError('llm_not_configured', 400, 'No LLM endpoint is set: add one in Settings (PUT /api/settings)');
    if (row.examples.length === 0) throw new AppError('conflict', 409, `Feature ${id} never fired in its discovery: there are no examples to label it from`);
    const show = await textsOf(deps, await modelDirOfSae(deps.db, sae.id));
    let label: string;
    try {
      label = await llmLabel(createLlmClient(llm, { retries: 1 }), row.examples, (t) => show([t])[0]!, c.req.raw.signal);
    } catch (err) {
      if (err instanceof LlmError) throw llmFailure(err, c.get('requestId'));
      throw err;
    }
    await setLlmLabel(deps.db, sae.id, index, label);
    return c.json(await detailOf(deps, id), 200);
  });

  app.openapi(lensRouteDef, async (c) => {
    const deps = c.get('deps');
    const { sae, index } = await load(deps, c.req.valid('param').id);
    if (index >= sae.dSae) throw notFound('feature', featureId(sae.id, index));
    const q = c.req.valid('query');
    if (!(await modelDirOfSae(deps.db, sae.id))) throw new AppError('conflict', 409, `SAE ${sae.id} has no model whose unembedding the logit lens reads`);
    const r = await analysis(deps, 'logit-lens', sae.id, index, { k: q.k, norm: q.norm });
    if ('jobId' in r) return c.json(r, 202);
    return c.json({ ...(r.result as Omit<z.infer<typeof logitLensSchema>, 'cached' | 'computedAt'>), cached: r.cached, computedAt: r.computedAt }, 200);
  });

  app.openapi(correlationsRouteDef, async (c) => {
    const deps = c.get('deps');
    const { sae, index } = await load(deps, c.req.valid('param').id);
    if (index >= sae.dSae) throw notFound('feature', featureId(sae.id, index));
    const q = c.req.valid('query');
    if (!(await extractionOfSae(deps.db, sae.id))) throw new AppError('conflict', 409, `SAE ${sae.id} has no stored activations to correlate over (no discovery or training extraction)`);
    const r = await analysis(deps, 'correlations', sae.id, index, { k: q.k });
    if ('jobId' in r) return c.json(r, 202);
    const res = r.result as { rows: number; positive: { feature: number; r: number }[]; negative: { feature: number; r: number }[]; device?: JobDevice };
    // labels as they are now (edited labels show at once)
    const labels = await featureLabels(deps.db, sae.id, [...res.positive, ...res.negative].map((x) => x.feature));
    const named = (xs: { feature: number; r: number }[]) => xs.map((x) => ({ feature: x.feature, r: x.r, label: labels.get(x.feature) ?? null }));
    return c.json({ rows: res.rows, positive: named(res.positive), negative: named(res.negative), ...(res.device ? { device: res.device } : {}), cached: r.cached, computedAt: r.computedAt }, 200);
  });

  app.openapi(ablationRouteDef, async (c) => {
    const deps = c.get('deps');
    const id = c.req.valid('param').id;
    const { sae, index } = await load(deps, id);
    const q = c.req.valid('query');
    const row = await getFeature(deps.db, sae.id, index);
    if (!row) throw notFound('feature', id);
    if (row.examples.length === 0) throw new AppError('conflict', 409, `Feature ${id} has no top examples to ablate on`);
    if (!(await modelDirOfSae(deps.db, sae.id))) throw new AppError('conflict', 409, `SAE ${sae.id} has no model to run`);
    const params: Record<string, string | number> = q.mode === 'clamp' ? { mode: 'clamp', value: q.value!, examples: q.examples } : { mode: 'zero', examples: q.examples };
    const r = await analysis(deps, 'ablation', sae.id, index, params);
    if ('jobId' in r) return c.json(r, 202);
    return c.json({ ...(r.result as Omit<z.infer<typeof ablationSchema>, 'cached' | 'computedAt'>), cached: r.cached, computedAt: r.computedAt }, 200);
  });
}
