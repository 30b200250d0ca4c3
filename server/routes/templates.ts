/**
 * Templates (saved presets), the same routes for each kind:
 * `GET/POST /api/extraction-templates`, `DELETE /api/extraction-templates/{id}`
 * (settings and hook points of an extraction) and
 * `GET/POST /api/training-templates`, `DELETE /api/training-templates/{id}`
 * (SAE hyperparameters and hook points of a training).
 */
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { createTemplateSchema, EXTRACTION_LIMITS, extractionTemplateSchema, templateListSchema } from '../../models/contracts/extractions.ts';
import { createTrainingTemplateSchema, TRAINING_LIMITS, trainingTemplateListSchema, trainingTemplateSchema } from '../../models/contracts/trainings.ts';
import type { Db } from '../../db/client.ts';
import { deleteTemplate, insertTemplate, listTemplates, type TemplateKind, type TemplateOf } from '../../db/queries/templates.ts';
import { AppError } from '../errors.ts';
import { error, json, jsonBody, notFound } from '../responses.ts';
import type { App } from '../app.ts';

/** What differs between the kinds: path, schemas, limit and the words of the OpenAPI document. */
const KINDS = {
  extraction: {
    path: '/api/extraction-templates',
    max: EXTRACTION_LIMITS.MAX_TEMPLATES,
    create: createTemplateSchema,
    template: extractionTemplateSchema,
    list: templateListSchema,
    summaries: {
      list: 'Saved extraction templates (presets of settings and hook points), by name',
      create: 'Saves an extraction template; `settings` may hold any of the extraction settings and hook points',
      delete: 'Deletes an extraction template (runs made with it keep their settings)',
    },
  },
  training: {
    path: '/api/training-templates',
    max: TRAINING_LIMITS.MAX_TEMPLATES,
    create: createTrainingTemplateSchema,
    template: trainingTemplateSchema,
    list: trainingTemplateListSchema,
    summaries: {
      list: 'Saved training templates (presets of SAE hyperparameters and hook points), by name',
      create: 'Saves a training template; `settings` may hold any of the config fields (`config`) and hook points',
      delete: 'Deletes a training template (runs made with it keep their config)',
    },
  },
} as const satisfies Record<TemplateKind, unknown>;

const templateIdParamSchema = z.object({ id: z.string().uuid() });

/** Saves a template of `kind`; a 409 naming `name` when one has this name, or when there are too many. */
export async function saveTemplate<K extends TemplateKind>(db: Db, kind: K, t: { name: string; settings: TemplateOf[K]['settings'] }): Promise<TemplateOf[K]> {
  const max = KINDS[kind].max;
  const saved = await insertTemplate(db, kind, t, max);
  if (saved === 'name_taken') throw new AppError('conflict', 409, `A template named "${t.name}" exists already`, [{ field: 'name', message: 'a template has this name already' }]);
  if (saved === 'too_many') throw new AppError('conflict', 409, `There are ${max} templates already; delete one first`);
  return saved;
}

/** Registers the template routes of `kind`. */
export function registerTemplateRoutes(app: App, kind: TemplateKind): void {
  const k = KINDS[kind];
  const listDef = createRoute({ method: 'get', path: k.path, summary: k.summaries.list, responses: { 200: json('Templates', k.list) } });
  const createDef = createRoute({
    method: 'post',
    path: k.path,
    summary: k.summaries.create,
    request: { body: jsonBody(k.create) },
    responses: {
      201: json('The template', k.template),
      400: error('Invalid body (the details name the field)'),
      409: error('A template has this name already, or there are too many'),
    },
  });
  const deleteDef = createRoute({
    method: 'delete',
    path: `${k.path}/{id}`,
    summary: k.summaries.delete,
    request: { params: templateIdParamSchema },
    responses: { 204: { description: 'Deleted' }, 400: error('Invalid id'), 404: error('No such template') },
  });

  app.openapi(listDef, async (c) => c.json({ templates: await listTemplates(c.get('deps').db, kind) }, 200));

  app.openapi(createDef, async (c) => c.json(await saveTemplate(c.get('deps').db, kind, c.req.valid('json')), 201));

  app.openapi(deleteDef, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await deleteTemplate(c.get('deps').db, kind, id))) throw notFound('template', id);
    return c.body(null, 204);
  });
}
