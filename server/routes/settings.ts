/**
 * User settings: `GET /api/settings` and `PUT /api/settings` (the LLM
 * endpoint that labels features: URL, model and key — the key is stored but
 * never returned), and `POST /api/settings/llm/test`, which tries one chat
 * completion with the given (or stored) settings and answers the endpoint's
 * status when it fails (never its answer: server/llm-errors.ts).
 *
 * The stored key is bound to the endpoint it was saved with (origin and
 * path, db/queries/settings.ts keyScope): settings naming another endpoint
 * without a key are refused with a 400 naming `llm.apiKey`, rather than
 * sending the stored key to a URL the request chose.
 */
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { llmTestBodySchema, llmTestResultSchema, putSettingsSchema, settingsSchema, type Settings } from '../../models/contracts/features.ts';
import { createLlmClient, LlmError, type LlmEndpoint } from '../../models/features/llm.ts';
import { getLlmSettings, LlmKeyScopeError, putLlmSettings, resolveLlmSettings } from '../../db/queries/settings.ts';
import { AppError, validationError } from '../errors.ts';
import { llmFailure } from '../llm-errors.ts';
import { error, fieldError, json, jsonBody } from '../responses.ts';
import type { App } from '../app.ts';


const getRouteDef = createRoute({
  method: 'get',
  path: '/api/settings',
  summary: 'Settings: the OpenAI-compatible endpoint that labels features (URL, model, whether a key is set); null when LLM labels are off',
  responses: { 200: json('The settings', settingsSchema) },
});

const putRouteDef = createRoute({
  method: 'put',
  path: '/api/settings',
  summary:
    'Saves the settings. `llm`: the endpoint\'s base URL (…/v1), model and key (null: none). The key left out keeps the stored key only for the same endpoint (origin and path): for another URL it must be given again (or null), else a 400 names `llm.apiKey`, so a stored key never goes to a new host. `llm: null` turns LLM labels off',
  request: { body: jsonBody(putSettingsSchema) },
  responses: { 200: json('The settings saved', settingsSchema), 400: error('Invalid body, or `llm.apiKey` left out for a new endpoint (the details name the field)') },
});

const testRouteDef = createRoute({
  method: 'post',
  path: '/api/settings/llm/test',
  summary:
    'Tries the LLM endpoint with one short chat completion: the settings in the body, or the stored ones. The stored key is used only for the stored endpoint: a body naming another URL must give its own key (or null), else a 400 names `llm.apiKey`',
  request: { body: { required: false, content: { 'application/json': { schema: llmTestBodySchema } } } },
  responses: {
    200: json('The endpoint answered', llmTestResultSchema),
    400: error('No settings given or stored, invalid body, or `llm.apiKey` left out for another endpoint than the stored one'),
    502: error("The endpoint failed: its HTTP status, a generic reason and at most its JSON error code (never its answer's body, which goes to the server log)"),
  },
});

const view = (llm: LlmEndpoint | null): Settings => ({ llm: llm ? { url: llm.url, model: llm.model, apiKeySet: llm.apiKey !== null } : null });

/** Settings naming a new endpoint without its key, as a 400 naming `llm.apiKey`. */
async function keyScoped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof LlmKeyScopeError) throw fieldError('llm.apiKey', err.message);
    throw err;
  }
}

export function registerSettingsRoutes(app: App): void {
  app.openapi(getRouteDef, async (c) => c.json(view(await getLlmSettings(c.get('deps').db)), 200));

  app.openapi(putRouteDef, async (c) => {
    const body = c.req.valid('json');
    return c.json(view(await keyScoped(() => putLlmSettings(c.get('deps').db, body.llm))), 200);
  });

  app.openapi(testRouteDef, async (c) => {
    const { db } = c.get('deps');
    // the body is optional: an empty one tries the stored settings
    const raw = await c.req.text();
    let body: z.infer<typeof llmTestBodySchema> = {};
    if (raw.trim()) {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        throw new AppError('invalid_request', 400, 'Invalid request body: not JSON', [{ field: '(root)', message: 'not JSON' }]);
      }
      const parsed = llmTestBodySchema.safeParse(value);
      if (!parsed.success) throw validationError(parsed.error, 'request body');
      body = parsed.data;
    }
    const given = body.llm;
    const llm = given ? await keyScoped(() => resolveLlmSettings(db, given)) : await getLlmSettings(db);
    if (!llm) throw new AppError('llm_not_configured', 400, 'No LLM endpoint is set: give one in the body or save it in Settings first', [{ field: 'llm', message: 'required when none is stored' }]);
    const client = createLlmClient(llm, { retries: 0, timeoutMs: 30_000 });
    try {
      const sample = await client.chat([{ role: 'user', content: 'Reply with the single word: ready' }], { maxTokens: 10, signal: c.req.raw.signal });
      return c.json({ ok: true as const, model: llm.model, sample: sample.slice(0, 200) }, 200);
    } catch (err) {
      if (err instanceof LlmError) throw llmFailure(err, c.get('requestId'));
      throw err;
    }
  });
}
