/**
 * Pure helpers of the Datasets page: labels, progress merging, the upload
 * size check, token display strings and histogram bars, kept apart from the
 * store and the components so they are tested without a browser.
 */
import type { Dataset, DatasetSource, DatasetStatsBody } from '../../models/contracts/datasets.ts';
import type { DatasetPhase, DatasetProgress } from '../../models/contracts/topics.ts';
import { formatBytes } from '../ui/format.ts';
import { percent } from './model-view.ts';

/** Statuses in which an import may still change. */
export function isActive(status: Dataset['status']): boolean {
  return status === 'queued' || status === 'running';
}

/** Where a dataset came from, in a few words: `owner/name@rev · split`, the uploaded file's name, or "shipped with Loupe". */
export function datasetSourceLabel(source: DatasetSource): string {
  if (source.kind === 'upload') return source.fileName;
  if (source.kind === 'builtin') return 'shipped with Loupe';
  const rev = source.revision && source.revision !== 'main' ? `@${source.revision}` : '';
  const config = source.config ? ` · ${source.config}` : '';
  return `${source.repo}${rev}${config} · ${source.split}`;
}

/** What an import phase is called on the page. */
export const PHASE_LABEL: Record<DatasetPhase, string> = { downloading: 'downloading', extracting: 'extracting', tokenizing: 'tokenizing' };

/** Percentage of the current phase done, 0–100 (100 once the dataset is completed). */
export function phasePercent(d: Pick<Dataset, 'status' | 'progress'>): number {
  if (d.status === 'completed') return 100;
  const p = d.progress;
  return p ? percent(p.bytesDone, p.bytesTotal) : 0;
}

/**
 * A dataset with a live progress event applied: its status, error and
 * progress. An event older than the progress it has is ignored (a late delivery).
 */
export function applyDatasetProgress(d: Dataset, p: DatasetProgress): Dataset {
  if (p.id !== d.id) return d;
  if (d.progress && p.ts < d.progress.ts) return d;
  return { ...d, status: p.status, error: p.error, progress: p };
}

/** 716294 → "716,294" (counts are shown exactly where they fit). */
export function formatInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** Why a file cannot be uploaded before a byte is sent: too large, or empty; undefined when it can. */
export function uploadProblem(file: { name: string; size: number }, maxBytes: number): string | undefined {
  if (file.size === 0) return `${file.name} is empty`;
  if (file.size > maxBytes) return `${file.name} is ${formatBytes(file.size)}, larger than the server's upload limit of ${formatBytes(maxBytes)} (UPLOAD_MAX_BYTES)`;
  return undefined;
}

/** File types the upload accepts (the `accept` of the file input). */
export const UPLOAD_ACCEPT = '.jsonl,.ndjson,.json,.csv,.tsv,.txt,.text,.parquet,.gz,.zip';

/**
 * A token's display string with its whitespace made visible: a space as `·`,
 * a tab as `→`, a line break as `↵` (followed by the break itself, so the text
 * still wraps where it did). Other characters are unchanged.
 * @example visibleToken(' the') // '·the'
 */
export function visibleToken(s: string): string {
  return s.replace(/ /g, '·').replace(/\t/g, '→').replace(/\r?\n/g, (m) => `↵${m}`);
}

/** One bar of the document-length histogram: documents with a length in `[x0, x1)` tokens. */
export interface LengthBar {
  x0: number;
  x1: number;
  count: number;
  /** "1", "2–3", "4–5", … as the bin's lengths */
  label: string;
}

/** The histogram of stats.json as bars; empty bins are kept (they are part of the shape). */
export function lengthBars(h: DatasetStatsBody['histogram']): LengthBar[] {
  return h.counts.map((count, i) => {
    const x0 = h.edges[i]!;
    const x1 = h.edges[i + 1]!;
    return { x0, x1, count, label: x1 - x0 <= 1 ? String(x0) : `${x0}–${x1 - 1}` };
  });
}
