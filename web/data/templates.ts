/**
 * The store of a kind of template (named presets of a form's settings):
 * extraction templates at `/api/extraction-templates`, training templates at
 * `/api/training-templates`. The list, save and delete; both kinds answer
 * with the same shapes, each with its own settings.
 */
import { createSignal, type Accessor } from 'solid-js';
import type { z } from 'zod';
import { getJson, sendJson } from '../api.ts';

/** A saved template: its name and the settings it holds. */
export interface Template<S> {
  id: string;
  name: string;
  settings: S;
}

export interface TemplatesStore<T extends Template<unknown>> {
  /** by name, as the API lists them; empty until loaded (and when they could not be) */
  list: Accessor<T[]>;
  /** POSTs a template; rejects with the server's ApiError (its details name bad fields, `settings.…` for the settings) */
  save(name: string, settings: T['settings']): Promise<T>;
  remove(t: T): Promise<void>;
}

/**
 * Creates the store of the templates at `path` (e.g. `/api/training-templates`),
 * parsed with the kind's schemas; call inside a component. Loads them once at creation.
 * @example const templates = createTemplatesStore('/api/training-templates', trainingTemplateListSchema, trainingTemplateSchema);
 */
export function createTemplatesStore<T extends Template<unknown>>(path: string, listSchema: z.ZodType<{ templates: T[] }>, itemSchema: z.ZodType<T>): TemplatesStore<T> {
  const [list, setList] = createSignal<T[]>([]);

  async function load(): Promise<void> {
    try {
      setList((await getJson(path, listSchema)).templates);
    } catch {
      // the form works without them; the next save reloads
    }
  }
  void load();

  return {
    list,
    async save(name, settings) {
      const t = await sendJson('POST', path, { name, settings }, itemSchema);
      await load();
      return t;
    },
    async remove(t) {
      await sendJson('DELETE', `${path}/${t.id}`);
      await load();
    },
  };
}
