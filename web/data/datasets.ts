/**
 * The Datasets page's store: the list from `GET /api/datasets`, kept live by
 * the `dataset/{id}` topic of every import that may still change, re-polled
 * from the API while the WebSocket is down (and every 10 s while the tab is
 * visible: a missed event, imports started elsewhere); the actions (hub import, upload with
 * upload progress, cancel, delete); and the reads of one dataset's
 * statistics and sample pages.
 */
import { createSignal, type Accessor } from 'solid-js';
import { modelListSchema, type Model } from '../../models/contracts/api.ts';
import {
  createDatasetSchema,
  createdDatasetSchema,
  datasetListSchema,
  datasetSampleSchema,
  datasetSchema,
  datasetStatsSchema,
  type CreateDataset,
  type Dataset,
  type DatasetSample,
  type DatasetStatsBody,
  type UploadDatasetQuery,
} from '../../models/contracts/datasets.ts';
import type { DatasetProgress } from '../../models/contracts/topics.ts';
import { ApiError, checkInput, getJson, sendJson } from '../api.ts';
import { watchActiveRows } from './live.ts';
import { createRowList, type ListStore } from './rows.ts';
import { applyDatasetProgress, isActive } from './dataset-view.ts';

/** An upload under way: its progress, and a way to stop it. */
export interface UploadHandle {
  /** resolves with the created dataset; rejects with an ApiError (status 0 and code `aborted` when aborted) */
  done: Promise<Dataset>;
  abort(): void;
}

export interface DatasetsStore extends ListStore {
  datasets: Accessor<Dataset[]>;
  /** the server's upload limit, bytes (known after the first load) */
  uploadMaxBytes: Accessor<number | undefined>;
  /** POSTs a hub import; rejects with the server's ApiError (its details name bad fields) */
  importHub(body: CreateDataset): Promise<Dataset>;
  /** Sends a file as the body of `POST /api/datasets/upload`; `onProgress` gets bytes sent and the total */
  upload(file: File, query: Omit<UploadDatasetQuery, 'filename'>, onProgress: (sent: number, total: number) => void): UploadHandle;
  /** cancels a dataset's import job */
  cancel(dataset: Dataset): Promise<void>;
  /** deletes a dataset and its files */
  remove(dataset: Dataset): Promise<void>;
}

/** The query string of an upload (undefined values left out). */
function uploadQuery(fileName: string, q: Omit<UploadDatasetQuery, 'filename'>): string {
  const params = new URLSearchParams({ filename: fileName });
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, String(v));
  return params.toString();
}

/** The server's error body of an XMLHttpRequest, as an ApiError. */
function xhrError(xhr: XMLHttpRequest): ApiError {
  try {
    const body = JSON.parse(xhr.responseText) as { error?: { code?: string; message?: string; details?: unknown; requestId?: string } };
    if (body.error?.message) return new ApiError(body.error.code ?? `http_${xhr.status}`, body.error.message, xhr.status, body.error.details, body.error.requestId);
  } catch {
    // not JSON
  }
  return new ApiError(`http_${xhr.status}`, `${xhr.status} ${xhr.statusText || 'upload failed'}`, xhr.status);
}

/** Creates the store; call inside a component (it owns subscriptions and timers). */
export function createDatasetsStore(): DatasetsStore {
  // a dataset's card (and an open statistics view) survives every progress event
  const [uploadMaxBytes, setUploadMaxBytes] = createSignal<number>();
  const list = createRowList<Dataset, DatasetProgress, { datasets: Dataset[]; uploadMaxBytes: number }>({
    load: () => getJson('/api/datasets', datasetListSchema),
    rowsOf: (res) => res.datasets,
    onList: (res) => setUploadMaxBytes(res.uploadMaxBytes),
    apply: applyDatasetProgress,
    keepLive: (d) => isActive(d.status),
    // its statistics and size arrive with the final status
    fetchOne: (id) => getJson(`/api/datasets/${id}`, datasetSchema),
    newRows: 'last',
  });
  const { rows: datasets, replace, refresh, reload } = list;

  // Live: each active row's events, and polling while any runs.
  const onProgress = (p: DatasetProgress) => {
    const changed = list.applyLive(p);
    if (changed && !isActive(changed.after.status)) void refresh(p.id);
  };
  watchActiveRows({ rows: datasets, isActive: (d) => isActive(d.status), topic: (id) => `dataset/${id}`, onEvent: onProgress, reload });

  return {
    datasets,
    uploadMaxBytes,
    loading: list.loading,
    error: list.error,
    reload,
    async importHub(body) {
      checkInput(createDatasetSchema, body);
      const { dataset } = await sendJson('POST', '/api/datasets', body, createdDatasetSchema);
      replace(dataset);
      return dataset;
    },
    upload(file, query, onProgress) {
      // XMLHttpRequest, not fetch: it reports upload progress. The file streams from disk as the body.
      const xhr = new XMLHttpRequest();
      const done = new Promise<Dataset>((resolve, reject) => {
        xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
        xhr.onload = () => {
          if (xhr.status !== 202) return reject(xhrError(xhr));
          const parsed = createdDatasetSchema.safeParse(JSON.parse(xhr.responseText));
          if (!parsed.success) return reject(new ApiError('bad_response', 'the upload answered with an unexpected shape', xhr.status));
          onProgress(file.size, file.size);
          replace(parsed.data.dataset);
          resolve(parsed.data.dataset);
        };
        xhr.onerror = () => reject(new ApiError('network', 'Cannot reach the server (the upload was interrupted)', 0));
        xhr.onabort = () => reject(new ApiError('aborted', 'Upload cancelled', 0));
      });
      xhr.open('POST', `/api/datasets/upload?${uploadQuery(file.name, query)}`);
      xhr.setRequestHeader('content-type', 'application/octet-stream');
      xhr.setRequestHeader('accept', 'application/json');
      xhr.send(file);
      return { done, abort: () => xhr.abort() };
    },
    async cancel(dataset) {
      if (!dataset.jobId) return;
      try {
        await sendJson('POST', `/api/jobs/${dataset.jobId}/cancel`);
      } finally {
        // Cancelled, or it finished meanwhile (409): either way show what the server has now.
        await refresh(dataset.id);
      }
    },
    async remove(dataset) {
      await sendJson('DELETE', `/api/datasets/${dataset.id}`);
      list.remove(dataset.id);
    },
  };
}

/** The statistics of an imported dataset. */
export function loadStats(id: string, signal?: AbortSignal): Promise<DatasetStatsBody> {
  return getJson(`/api/datasets/${id}/stats`, datasetStatsSchema, signal ? { signal } : {});
}

/** A page of documents of an imported dataset, with their tokens. */
export function loadSample(id: string, offset: number, limit: number, signal?: AbortSignal): Promise<DatasetSample> {
  return getJson(`/api/datasets/${id}/samples?offset=${offset}&limit=${limit}`, datasetSampleSchema, signal ? { signal } : {});
}

/** The models whose tokenizer can tokenize a dataset (downloaded ones), the default first. */
export async function loadTokenizerModels(): Promise<Model[]> {
  const { models } = await getJson('/api/models', modelListSchema);
  return models.filter((m) => m.status === 'completed');
}
