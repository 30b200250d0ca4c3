/**
 * The Extractions page's store: the history from `GET /api/extractions`, kept
 * live by the `extraction/{id}` topic of every run that may still change,
 * re-polled from the API while the WebSocket is down (and every 10 s while
 * the tab is visible: a missed event, runs started elsewhere); its templates
 * (templates.ts); and the actions (start, cancel, delete).
 */
import type { Accessor } from 'solid-js';
import { architectureSchema, modelListSchema, type Architecture, type Model } from '../../models/contracts/api.ts';
import { datasetListSchema, type Dataset } from '../../models/contracts/datasets.ts';
import {
  createExtractionSchema,
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
} from '../../models/contracts/extractions.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import { checkInput, getJson, sendJson } from '../api.ts';
import { watchActiveRows } from './live.ts';
import { createRowList, type ListStore } from './rows.ts';
import { applyExtractionProgress, isRunning } from './extraction-view.ts';
import { createTemplatesStore, type TemplatesStore } from './templates.ts';

export interface ExtractionsStore extends ListStore {
  runs: Accessor<Extraction[]>;
  templates: TemplatesStore<ExtractionTemplate>;
  /** POSTs a new extraction; rejects with the server's ApiError (its details name bad fields) */
  start(body: CreateExtraction): Promise<Extraction>;
  cancel(run: Extraction): Promise<void>;
  remove(run: Extraction): Promise<void>;
}

/** Creates the store; call inside a component (it owns subscriptions and timers). */
export function createExtractionsStore(): ExtractionsStore {
  // a run's card (an open detail view) survives every event
  const list = createRowList<Extraction, ExtractionProgress, { extractions: Extraction[] }>({
    load: () => getJson('/api/extractions', extractionListSchema),
    rowsOf: (res) => res.extractions,
    apply: applyExtractionProgress,
    // its statistics arrive with the final status; the detail without its manifest (zod drops the extra key)
    fetchOne: async (id) => extractionSchema.parse(await getJson(`/api/extractions/${id}`, extractionDetailSchema)),
  });
  const { rows: runs, replace, refresh, reload } = list;
  const templates = createTemplatesStore('/api/extraction-templates', templateListSchema, extractionTemplateSchema);

  // Live: each active row's events, and polling while any runs.
  const onProgress = (p: ExtractionProgress) => {
    const changed = list.applyLive(p);
    if (changed && !isRunning(changed.after.status)) void refresh(p.id);
  };
  watchActiveRows({ rows: runs, isActive: (r) => isRunning(r.status), topic: (id) => `extraction/${id}`, onEvent: onProgress, reload });

  return {
    runs,
    loading: list.loading,
    error: list.error,
    templates,
    reload,
    async start(body) {
      checkInput(createExtractionSchema, body);
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
      list.remove(run.id);
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
