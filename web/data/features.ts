/**
 * The Features pages' stores.
 *
 * `createDiscoveriesStore`: the discoveries of one SAE from
 * `GET /api/discoveries?sae=`, kept live by the `discovery/{id}` topic of
 * every one that may still change (reloaded every 2 s while the WebSocket
 * is down, every 10 s while the tab is visible: discoveries started
 * elsewhere), with start and cancel. `createFeatureListStore`: one page of
 * `GET /api/features` for the view in the URL, refetched when the view
 * changes (a request superseded by a newer one is aborted), the last page
 * kept on screen while the next loads. `createAnalysis`: one analysis of a
 * feature, which the server may answer with 202 `{jobId}` while it computes:
 * then the same URL is asked again until the result is there.
 * `createSaesStore`: the SAE picker's list, reloaded likewise (an SAE
 * trained elsewhere appears). `createDiscoverySourcesStore`: what a
 * discovery of an SAE can run over (extractions, datasets, the extraction
 * it was trained on, its model's context), reloaded likewise. Also a feature's detail and edits, and the
 * LLM settings.
 */
import { createEffect, createSignal, on, onCleanup, type Accessor } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import type { z } from 'zod';
import {
  analysisPendingSchema,
  createDiscoverySchema,
  featurePatchSchema,
  llmTestBodySchema,
  putSettingsSchema,
  discoveryListSchema,
  discoverySchema,
  featureDetailSchema,
  featureListItemSchema,
  featureListSchema,
  llmTestResultSchema,
  settingsSchema,
  type CreateDiscovery,
  type Discovery,
  type FeatureDetail,
  type FeatureList,
  type FeatureListItem,
  type FeaturePatch,
  type LlmSettingsInput,
  type Settings,
} from '../../models/contracts/features.ts';
import { architectureSchema } from '../../models/contracts/api.ts';
import { datasetListSchema, type Dataset } from '../../models/contracts/datasets.ts';
import { extractionListSchema, type Extraction } from '../../models/contracts/extractions.ts';
import { saeListSchema, saeSchema, trainingDetailSchema, type Sae } from '../../models/contracts/trainings.ts';
import { ApiError, checkInput, errorMessage, getJson, getJsonOrAccepted, sendJson } from '../api.ts';
import { discoveryActive } from './discovery-view.ts';
import { featuresApiPath, type FeatureListQuery } from './feature-query.ts';
import { pollList, watchActiveRows } from './live.ts';
import { asApiError } from './rows.ts';

/** Every SAE (trained or imported), newest first. */
export async function loadSaes(signal?: AbortSignal): Promise<Sae[]> {
  return (await getJson('/api/saes?limit=500', saeListSchema, signal ? { signal } : {})).saes;
}

/** One SAE, or null when there is none with that id (a 404, or an id that is not one). */
export async function loadSae(id: string, signal?: AbortSignal): Promise<Sae | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  try {
    return await getJson(`/api/saes/${id}`, saeSchema, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** Makes an SAE its family's active SAE (`PATCH /api/saes/{id}`); the SAE as it is now. */
export async function makeSaeActive(id: string): Promise<Sae> {
  return sendJson('PATCH', `/api/saes/${id}`, { active: true }, saeSchema);
}

export interface SaesStore {
  /** newest first; undefined until the first load */
  list: Accessor<Sae[] | undefined>;
  error: Accessor<string | undefined>;
  reload(): Promise<void>;
}

/**
 * Every SAE, reloaded every 10 s while the tab is visible (an SAE trained
 * elsewhere, or by the first-start demo, appears in the picker); call
 * inside a component.
 */
export function createSaesStore(): SaesStore {
  // Reconciled by id: an SAE keeps its identity (its <option> stays, with the picker's selection) when one is added.
  const [state, setState] = createStore<{ list: Sae[] | undefined }>({ list: undefined });
  const [error, setError] = createSignal<string>();
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  let request = 0;
  async function reload(): Promise<void> {
    const id = ++request;
    try {
      const saes = await loadSaes(ac.signal);
      if (id !== request) return;
      setState('list', state.list ? reconcile(saes, { key: 'id', merge: true }) : saes);
      setError(undefined);
    } catch (err) {
      if (id === request && !ac.signal.aborted) setError(errorMessage(err));
    }
  }
  void reload();
  pollList({ reload });
  return { list: () => state.list, error, reload };
}

/** What a discovery of an SAE can run over, and the names of what its discoveries ran over. */
export interface DiscoverySources {
  /** the extraction its training ran on (null: imported, or the training is gone) */
  trainedId: string | null;
  /** completed extractions of its model (of any model for an SAE without one) */
  extractions: Extraction[];
  /** every dataset (the form offers the completed ones) */
  datasets: Dataset[];
  /** tokens a window the SAE's model takes at most (null: no model, or not readable) */
  modelContext: number | null;
}

/** A model's context length, kept per model (it does not change). */
const modelContexts = new Map<string, Promise<number | null>>();
function modelContext(modelId: string): Promise<number | null> {
  let p = modelContexts.get(modelId);
  if (!p) {
    p = getJson(`/api/models/${modelId}/architecture`, architectureSchema).then(
      (a) => a.contextLength,
      () => {
        modelContexts.delete(modelId);
        return null;
      },
    );
    modelContexts.set(modelId, p);
  }
  return p;
}

/** The sources of a discovery of `sae`. */
export async function loadDiscoverySources(sae: Sae, signal?: AbortSignal): Promise<DiscoverySources> {
  const opts = signal ? { signal } : {};
  const [ex, ds, trainedId, context] = await Promise.all([
    getJson(`/api/extractions?status=completed&limit=500${sae.modelId ? `&modelId=${sae.modelId}` : ''}`, extractionListSchema, opts),
    getJson('/api/datasets', datasetListSchema, opts),
    sae.trainingId
      ? getJson(`/api/trainings/${sae.trainingId}`, trainingDetailSchema, opts).then(
          (t) => t.extractionId,
          (err) => {
            if (err instanceof ApiError && err.status === 404) return null;
            throw err;
          },
        )
      : null,
    sae.modelId ? modelContext(sae.modelId) : null,
  ]);
  return { trainedId, extractions: ex.extractions, datasets: ds.datasets, modelContext: context };
}

export interface DiscoverySourcesStore {
  /** undefined until the first load for the current SAE */
  data: Accessor<DiscoverySources | undefined>;
  error: Accessor<string | undefined>;
  reload(): Promise<void>;
}

/**
 * The sources of a discovery of `sae()`, loaded again when the SAE changes
 * and every 10 s while the tab is visible (an extraction or a dataset made
 * meanwhile is offered); rows reconciled by id, so that the form's pickers
 * keep their options. Call inside a component.
 */
export function createDiscoverySourcesStore(sae: Accessor<Sae>): DiscoverySourcesStore {
  const [state, setState] = createStore<{ data: DiscoverySources | undefined }>({ data: undefined });
  const [error, setError] = createSignal<string>();
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  let request = 0;
  let loadedFor: string | null = null;
  async function reload(): Promise<void> {
    const s = sae();
    const id = ++request;
    try {
      const data = await loadDiscoverySources(s, ac.signal);
      if (id !== request) return;
      setState('data', loadedFor === s.id && state.data ? reconcile(data, { key: 'id', merge: true }) : data);
      loadedFor = s.id;
      setError(undefined);
    } catch (err) {
      if (id === request && !ac.signal.aborted) setError(errorMessage(err));
    }
  }
  createEffect(
    on(
      () => sae().id,
      () => {
        setState('data', undefined);
        void reload();
      },
    ),
  );
  pollList({ reload });
  return { data: () => state.data, error, reload };
}

export interface DiscoveriesStore {
  /** newest first */
  list: Accessor<Discovery[]>;
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  reload(): Promise<void>;
  /** POSTs a discovery; rejects with the server's ApiError (its details name bad fields) */
  start(body: CreateDiscovery): Promise<Discovery>;
  cancel(d: Discovery): Promise<void>;
}

/**
 * The discoveries of the SAE `saeId()` (none while it is null); call inside
 * a component. `onCompleted` runs when one completes while watched (its
 * features replaced the SAE's).
 */
export function createDiscoveriesStore(saeId: Accessor<string | null>, onCompleted: (d: Discovery) => void): DiscoveriesStore {
  const [list, setList] = createSignal<Discovery[]>([]);
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<ApiError>();
  const upsert = (d: Discovery) => setList((l) => (l.some((x) => x.id === d.id) ? l.map((x) => (x.id === d.id ? d : x)) : [d, ...l]));

  /** a status change seen live: completion reloads the features */
  const apply = (d: Discovery) => {
    const before = list().find((x) => x.id === d.id);
    if (!before || d.saeId !== saeId()) return;
    // a late event (an older update) does not undo a newer one
    if (d.updatedAt < before.updatedAt) return;
    upsert(d);
    if (d.status === 'completed' && before.status !== 'completed') onCompleted(d);
  };

  let request = 0;
  /** the SAE whose list has been loaded once (a discovery new to a later load was made elsewhere meanwhile) */
  let loadedFor: string | null = null;
  async function reload(): Promise<void> {
    const sae = saeId();
    const id = ++request;
    if (!sae) {
      setList([]);
      setLoading(false);
      return;
    }
    setLoading(list().length === 0);
    try {
      const res = await getJson(`/api/discoveries?sae=${encodeURIComponent(sae)}`, discoveryListSchema);
      if (id !== request) return;
      const before = new Map(list().map((d) => [d.id, d]));
      // A row that did not change keeps its object (nothing redrawn by a reload that found nothing new).
      const same = (a: Discovery, b: Discovery) => a.updatedAt > b.updatedAt || JSON.stringify(a) === JSON.stringify(b);
      setList(
        res.discoveries.map((d) => {
          const b = before.get(d.id);
          return b && same(b, d) ? b : d;
        }),
      );
      const known = loadedFor === sae;
      loadedFor = sae;
      for (const d of res.discoveries) {
        const b = before.get(d.id);
        // completed since the last look, or made and completed elsewhere since then: the SAE's features changed
        if (d.status === 'completed' && (b ? b.status !== 'completed' : known)) onCompleted(d);
      }
      setError(undefined);
    } catch (err) {
      if (id === request) setError(asApiError(err));
    } finally {
      if (id === request) setLoading(false);
    }
  }

  createEffect(
    on(saeId, () => {
      setList([]);
      loadedFor = null;
      void reload();
    }),
  );
  watchActiveRows({ rows: list, isActive: (d) => discoveryActive(d.status), topic: (id) => `discovery/${id}`, onEvent: apply, reload });

  return {
    list,
    loading,
    error,
    reload,
    async start(body) {
      checkInput(createDiscoverySchema, body);
      const d = await sendJson('POST', '/api/discoveries', body, discoverySchema);
      upsert(d);
      return d;
    },
    async cancel(d) {
      await sendJson('DELETE', `/api/discoveries/${d.id}`);
      await reload();
    },
  };
}

export interface FeatureListStore {
  /** the page on screen (the previous one while the next loads) */
  data: Accessor<FeatureList | undefined>;
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  reload(): void;
  /** replaces an item on the page (after an edit) */
  update(item: FeatureListItem): void;
}

/** One page of features for `query()` (nothing while it has no SAE); call inside a component. */
export function createFeatureListStore(query: Accessor<FeatureListQuery>): FeatureListStore {
  const [data, setData] = createSignal<FeatureList>();
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<ApiError>();
  const [tick, setTick] = createSignal(0);
  let ac: AbortController | undefined;
  onCleanup(() => ac?.abort());

  createEffect(() => {
    tick();
    const q = query();
    ac?.abort();
    if (!q.sae) {
      setData(undefined);
      setLoading(false);
      return;
    }
    const mine = (ac = new AbortController());
    setLoading(true);
    getJson(featuresApiPath(q), featureListSchema, { signal: mine.signal }).then(
      (page) => {
        if (mine.signal.aborted) return;
        setData(page);
        setError(undefined);
        setLoading(false);
      },
      (err) => {
        if (mine.signal.aborted) return;
        setError(asApiError(err));
        setLoading(false);
      },
    );
  });

  return {
    data,
    loading,
    error,
    reload: () => setTick((t) => t + 1),
    update(item) {
      setData((d) => (d ? { ...d, items: d.items.map((x) => (x.id === item.id ? { ...x, ...item } : x)) } : d));
    },
  };
}

/** A feature with its examples, histogram and SAE. */
export function loadFeature(id: string, signal?: AbortSignal): Promise<FeatureDetail> {
  return getJson(`/api/features/${id}`, featureDetailSchema, signal ? { signal } : {});
}

/** The last PATCH sent for each feature, so the next waits for it (two quick star clicks land in the order made). */
const patching = new Map<string, Promise<unknown>>();

/**
 * PATCHes a feature (label, favourite, notes); the feature as the server has
 * it afterwards, when it says. Patches of one feature go one after another:
 * requests in flight together may reach the server in either order, and the
 * star pressed twice would then end unset.
 */
export async function patchFeature(id: string, patch: FeaturePatch): Promise<FeatureListItem | undefined> {
  checkInput(featurePatchSchema, patch);
  const before = patching.get(id) ?? Promise.resolve();
  const sent = before.catch(() => undefined).then(() => sendJson('PATCH', `/api/features/${id}`, patch, featureListItemSchema));
  patching.set(id, sent);
  try {
    return await sent;
  } finally {
    if (patching.get(id) === sent) patching.delete(id);
  }
}

/** Asks the LLM for a new label of one feature now. */
export async function relabelFeature(id: string): Promise<FeatureListItem | undefined> {
  return sendJson('POST', `/api/features/${id}/label`, {}, featureListItemSchema);
}

/** Delay before asking again for an analysis still computing, ms, growing to {@link ANALYSIS_POLL_MAX_MS}. */
export const ANALYSIS_POLL_MIN_MS = 750;
export const ANALYSIS_POLL_MAX_MS = 4000;

export interface AnalysisState<T> {
  data: Accessor<T | undefined>;
  /** true from the request until the answer (through any 202s) */
  loading: Accessor<boolean>;
  /** the job computing it, while the server answers 202 */
  jobId: Accessor<string | undefined>;
  error: Accessor<ApiError | undefined>;
  /** asks again (after an error, or for a fresh answer) */
  retry(): void;
}

/**
 * One analysis of a feature at `path()` (nothing while it is null): fetched
 * whenever the path changes; a 202 `{jobId}` is asked again with a growing
 * delay until the result is there. Call inside a component.
 */
export function createAnalysis<S extends z.ZodType>(path: Accessor<string | null>, schema: S): AnalysisState<z.output<S>> {
  const [data, setData] = createSignal<z.output<S>>();
  const [loading, setLoading] = createSignal(false);
  const [jobId, setJobId] = createSignal<string>();
  const [error, setError] = createSignal<ApiError>();
  const [tick, setTick] = createSignal(0);
  createEffect(() => {
    tick();
    const p = path();
    setData(undefined);
    setError(undefined);
    setJobId(undefined);
    if (!p) {
      setLoading(false);
      return;
    }
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    onCleanup(() => {
      ac.abort();
      clearTimeout(timer);
    });
    setLoading(true);
    let delay = ANALYSIS_POLL_MIN_MS;
    const ask = () => {
      getJsonOrAccepted(p, schema, analysisPendingSchema, { signal: ac.signal }).then(
        (r) => {
          if (ac.signal.aborted) return;
          if ('accepted' in r) {
            setJobId(r.accepted.jobId);
            timer = setTimeout(ask, delay);
            delay = Math.min(ANALYSIS_POLL_MAX_MS, delay * 1.5);
            return;
          }
          setData(() => r.value);
          setJobId(undefined);
          setLoading(false);
        },
        (err) => {
          if (ac.signal.aborted) return;
          setError(asApiError(err));
          setJobId(undefined);
          setLoading(false);
        },
      );
    };
    ask();
  });
  return { data, loading, jobId, error, retry: () => setTick((t) => t + 1) };
}

/** The stored settings (the LLM endpoint, never its key). */
export function loadSettings(signal?: AbortSignal): Promise<Settings> {
  return getJson('/api/settings', settingsSchema, signal ? { signal } : {});
}

/** Saves the LLM endpoint (`null` turns LLM labels off); the settings as stored. */
export async function saveSettings(llm: LlmSettingsInput | null): Promise<Settings> {
  checkInput(putSettingsSchema, { llm });
  const res = await sendJson('PUT', '/api/settings', { llm }, settingsSchema);
  return res ?? loadSettings();
}

/** One chat completion through the endpoint `llm` (the stored one when left out). */
export async function testLlm(llm?: LlmSettingsInput): Promise<z.output<typeof llmTestResultSchema>> {
  const body = llm ? { llm } : {};
  checkInput(llmTestBodySchema, body);
  return sendJson('POST', '/api/settings/llm/test', body, llmTestResultSchema);
}
