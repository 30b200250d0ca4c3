/**
 * The Models page's store: the list from `GET /api/models`, kept live by the
 * `model/{id}` topic of every download that may still change, re-polled from
 * the API while the WebSocket is down (and every 10 s while the tab is
 * visible: a missed event, models added elsewhere); and the actions (add,
 * cancel, delete).
 */
import type { Accessor } from 'solid-js';
import {
  createModelSchema,
  createdModelSchema,
  architectureSchema,
  modelListSchema,
  modelSchema,
  type CreateModel,
  type Model,
  type Architecture,
} from '../../models/contracts/api.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';
import { ApiError, checkInput, getJson, sendJson } from '../api.ts';
import { watchActiveRows } from './live.ts';
import { createRowList, type ListStore } from './rows.ts';
import { applyProgress, isActive } from './model-view.ts';

export interface ModelsStore extends ListStore {
  models: Accessor<Model[]>;
  /** POSTs a new model; rejects with the server's ApiError (its details name bad fields) */
  add(body: CreateModel): Promise<Model>;
  /** cancels a model's download job */
  cancel(model: Model): Promise<void>;
  /** deletes a model and its files */
  remove(model: Model): Promise<void>;
}

/** Creates the store; call inside a component (it owns subscriptions and timers). */
export function createModelsStore(): ModelsStore {
  // a model's card (and its own state, such as an open architecture view) survives every progress event
  const list = createRowList<Model, ModelProgress, { models: Model[] }>({
    load: () => getJson('/api/models', modelListSchema),
    rowsOf: (res) => res.models,
    apply: applyProgress,
    // its size and architecture arrive with the final status
    fetchOne: (id) => getJson(`/api/models/${id}`, modelSchema),
    newRows: 'last',
  });
  const { rows: models, replace, refresh, reload } = list;

  // Live: each active row's events, and polling while any runs.
  const onProgress = (p: ModelProgress) => {
    const changed = list.applyLive(p);
    if (changed && !isActive(changed.after.status)) void refresh(p.id);
  };
  watchActiveRows({ rows: models, isActive: (m) => isActive(m.status), topic: (id) => `model/${id}`, onEvent: onProgress, reload });

  return {
    models,
    loading: list.loading,
    error: list.error,
    reload,
    async add(body) {
      checkInput(createModelSchema, body);
      const { model } = await sendJson('POST', '/api/models', body, createdModelSchema);
      replace(model);
      return model;
    },
    async cancel(model) {
      if (!model.jobId) return;
      try {
        await sendJson('POST', `/api/jobs/${model.jobId}/cancel`);
      } finally {
        // Cancelled, or it finished meanwhile (409): either way show what the server has now.
        await refresh(model.id);
      }
    },
    async remove(model) {
      await sendJson('DELETE', `/api/models/${model.id}`);
      list.remove(model.id);
    },
  };
}

/**
 * A model's architecture; `{none: message}` when the server cannot describe it
 * (404: no such endpoint or model; 409: its files are not in or not readable).
 */
export async function loadArchitecture(id: string, signal?: AbortSignal): Promise<Architecture | { none: string }> {
  try {
    return await getJson(`/api/models/${id}/architecture`, architectureSchema, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { none: 'the server has no description of this model\'s graph and hook points' };
    if (err instanceof ApiError && err.status === 409) return { none: err.message };
    throw err;
  }
}
