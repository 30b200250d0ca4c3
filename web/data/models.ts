/**
 * The Models page's store: the list from `GET /api/models`, kept live by the
 * `model/{id}` topic of every download that may still change, re-polled from
 * the API while the WebSocket is down (and every 10 s while the tab is
 * visible: a missed event, models added elsewhere); and the actions (add,
 * cancel, delete).
 */
import { createSignal, type Accessor } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import {
  createdModelSchema,
  architectureSchema,
  modelListSchema,
  modelSchema,
  type CreateModel,
  type Model,
  type Architecture,
} from '../../models/contracts/api.ts';
import type { ModelProgress } from '../../models/contracts/topics.ts';
import { ApiError, getJson, sendJson } from '../api.ts';
import { realtime } from '../providers/realtime.ts';
import { watchActiveRows } from './live.ts';
import { applyProgress, isActive } from './model-view.ts';


export interface ModelsStore {
  models: Accessor<Model[]>;
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  reload(): Promise<void>;
  /** POSTs a new model; rejects with the server's ApiError (its details name bad fields) */
  add(body: CreateModel): Promise<Model>;
  /** cancels a model's download job */
  cancel(model: Model): Promise<void>;
  /** deletes a model and its files */
  remove(model: Model): Promise<void>;
}

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('unknown', String(err), 0);
}

/** Creates the store; call inside a component (it owns subscriptions and timers). */
export function createModelsStore(): ModelsStore {
  // A store reconciled by id: a model keeps its identity across updates, so its card (and the card's
  // own state, such as an open architecture view) survives every progress event.
  const [state, setState] = createStore<{ list: Model[] }>({ list: [] });
  const models = () => state.list;
  const setModels = (next: Model[] | ((list: Model[]) => Model[])) =>
    setState('list', reconcile(typeof next === 'function' ? next(state.list) : next, { key: 'id', merge: true }));
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<ApiError>();

  const replace = (m: Model) => setModels((list) => (list.some((x) => x.id === m.id) ? list.map((x) => (x.id === m.id ? m : x)) : [...list, m]));

  let request = 0;
  async function reload(): Promise<void> {
    const id = ++request;
    try {
      const res = await getJson('/api/models', modelListSchema);
      if (id !== request) return;
      // Keep a live event newer than the listing (it may have raced the request).
      const current = new Map(models().map((m) => [m.id, m]));
      setModels(res.models.map((m) => {
        const live = current.get(m.id)?.progress;
        return live && m.progress && live.ts > m.progress.ts ? applyProgress(m, live) : m;
      }));
      setError(undefined);
    } catch (err) {
      if (id === request) setError(asApiError(err));
    } finally {
      if (id === request) setLoading(false);
    }
  }

  /** Fetches one model again (its size and architecture arrive with the final status). */
  async function refresh(id: string): Promise<void> {
    try {
      replace(await getJson(`/api/models/${id}`, modelSchema));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setModels((list) => list.filter((m) => m.id !== id));
    }
  }

  // Live: each active row's events, and polling while any runs.
  const onProgress = (p: ModelProgress) => {
    const before = models().find((m) => m.id === p.id);
    if (!before) return;
    const after = applyProgress(before, p);
    if (after === before) return;
    replace(after);
    if (!isActive(after.status)) void refresh(p.id);
  };
  watchActiveRows({ rows: models, isActive: (m) => isActive(m.status), topic: (id) => `model/${id}`, onEvent: (d) => onProgress(d as ModelProgress), reload });

  void reload();

  return {
    models,
    loading,
    error,
    reload,
    async add(body) {
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
      setModels((list) => list.filter((m) => m.id !== model.id));
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
