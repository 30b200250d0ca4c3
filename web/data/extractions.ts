/**
 * The Extractions page's store: the history from `GET /api/extractions`, kept
 * live by the `extraction/{id}` topic of every run that may still change,
 * re-polled from the API while the WebSocket is down (and every 10 s while
 * the tab is visible: a missed event, runs started elsewhere); templates; and the actions
 * (start, cancel, delete, save and delete templates).
 */
import { createSignal, type Accessor } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import { architectureSchema, modelListSchema, type Architecture, type Model } from '../../models/contracts/api.ts';
import { datasetListSchema, type Dataset } from '../../models/contracts/datasets.ts';
import {
  createdExtractionSchema,
  extractionDetailSchema,
  extractionListSchema,
  extractionSchema,
  extractionTemplateSchema,
  templateListSchema,
  type CreateExtraction,
  type Extraction,
  type ExtractionDetail,
  type ExtractionTemplate,
  type TemplateSettings,
} from '../../models/contracts/extractions.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import { ApiError, getJson, sendJson } from '../api.ts';
import { realtime } from '../providers/realtime.ts';
import { watchActiveRows } from './live.ts';
import { applyExtractionProgress, isRunning } from './extraction-view.ts';


export interface ExtractionsStore {
  runs: Accessor<Extraction[]>;
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  templates: Accessor<ExtractionTemplate[]>;
  reload(): Promise<void>;
  /** POSTs a new extraction; rejects with the server's ApiError (its details name bad fields) */
  start(body: CreateExtraction): Promise<Extraction>;
  cancel(run: Extraction): Promise<void>;
  remove(run: Extraction): Promise<void>;
  saveTemplate(name: string, settings: TemplateSettings): Promise<ExtractionTemplate>;
  removeTemplate(t: ExtractionTemplate): Promise<void>;
}

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('unknown', String(err), 0);
}

/** Creates the store; call inside a component (it owns subscriptions and timers). */
export function createExtractionsStore(): ExtractionsStore {
  // Reconciled by id: a run keeps its identity across updates, so its card (an open detail view) survives every event.
  const [state, setState] = createStore<{ list: Extraction[] }>({ list: [] });
  const runs = () => state.list;
  const setRuns = (next: Extraction[] | ((list: Extraction[]) => Extraction[])) =>
    setState('list', reconcile(typeof next === 'function' ? next(state.list) : next, { key: 'id', merge: true }));
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<ApiError>();
  const [templates, setTemplates] = createSignal<ExtractionTemplate[]>([]);

  const replace = (e: Extraction) => setRuns((list) => (list.some((x) => x.id === e.id) ? list.map((x) => (x.id === e.id ? e : x)) : [e, ...list]));

  let request = 0;
  async function reload(): Promise<void> {
    const id = ++request;
    try {
      const res = await getJson('/api/extractions', extractionListSchema);
      if (id !== request) return;
      // Keep a live event newer than the listing (it may have raced the request).
      const current = new Map(runs().map((r) => [r.id, r]));
      setRuns(
        res.extractions.map((r) => {
          const live = current.get(r.id)?.progress;
          return live && r.progress && live.ts > r.progress.ts ? applyExtractionProgress(r, live) : r;
        }),
      );
      setError(undefined);
    } catch (err) {
      if (id === request) setError(asApiError(err));
    } finally {
      if (id === request) setLoading(false);
    }
  }

  async function loadTemplates(): Promise<void> {
    try {
      setTemplates((await getJson('/api/extraction-templates', templateListSchema)).templates);
    } catch {
      // the form works without them; the next save reloads
    }
  }

  /** Fetches one run again (its statistics arrive with the final status). */
  async function refresh(id: string): Promise<void> {
    try {
      // the detail without its manifest (zod drops the extra key)
      replace(extractionSchema.parse(await getJson(`/api/extractions/${id}`, extractionDetailSchema)));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setRuns((list) => list.filter((r) => r.id !== id));
    }
  }

  // Live: each active row's events, and polling while any runs.
  const onProgress = (p: ExtractionProgress) => {
    const before = runs().find((r) => r.id === p.id);
    if (!before) return;
    const after = applyExtractionProgress(before, p);
    if (after === before) return;
    replace(after);
    if (!isRunning(after.status)) void refresh(p.id);
  };
  watchActiveRows({ rows: runs, isActive: (r) => isRunning(r.status), topic: (id) => `extraction/${id}`, onEvent: (d) => onProgress(d as ExtractionProgress), reload });

  void reload();
  void loadTemplates();

  return {
    runs,
    loading,
    error,
    templates,
    reload,
    async start(body) {
      const { extraction } = await sendJson('POST', '/api/extractions', body, createdExtractionSchema);
      replace(extraction);
      return extraction;
    },
    async cancel(run) {
      try {
        await sendJson('POST', `/api/extractions/${run.id}/cancel`, undefined, extractionSchema);
      } finally {
        // Cancelled, or it finished meanwhile (409): either way show what the server has now.
        await refresh(run.id);
      }
    },
    async remove(run) {
      await sendJson('DELETE', `/api/extractions/${run.id}`);
      setRuns((list) => list.filter((r) => r.id !== run.id));
    },
    async saveTemplate(name, settings) {
      const t = await sendJson('POST', '/api/extraction-templates', { name, settings }, extractionTemplateSchema);
      await loadTemplates();
      return t;
    },
    async removeTemplate(t) {
      await sendJson('DELETE', `/api/extraction-templates/${t.id}`);
      await loadTemplates();
    },
  };
}

/** Completed models and datasets, for the form's pickers (default model and built-in dataset first, as the API lists them). */
export async function loadSources(signal?: AbortSignal): Promise<{ models: Model[]; datasets: Dataset[] }> {
  const opts = signal ? { signal } : {};
  const [m, d] = await Promise.all([getJson('/api/models', modelListSchema, opts), getJson('/api/datasets', datasetListSchema, opts)]);
  return { models: m.models.filter((x) => x.status === 'completed'), datasets: d.datasets.filter((x) => x.status === 'completed') };
}

/** A model's architecture (its hook points), for the hook picker. */
export function loadArchitecture(modelId: string, signal?: AbortSignal): Promise<Architecture> {
  return getJson(`/api/models/${modelId}/architecture`, architectureSchema, signal ? { signal } : {});
}

/** One run with what its store holds. */
export function loadDetail(id: string, signal?: AbortSignal): Promise<ExtractionDetail> {
  return getJson(`/api/extractions/${id}`, extractionDetailSchema, signal ? { signal } : {});
}
