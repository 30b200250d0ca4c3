/**
 * Pure helpers of the Extractions page: which hook points can be extracted,
 * live progress merged into a run, labels and the form's body, kept apart
 * from the store so they are tested without a browser.
 */
import type { Architecture } from '../../models/contracts/api.ts';
import type { CreateExtraction, Extraction, ExtractionSettingsInput, TemplateSettings } from '../../models/contracts/extractions.ts';
import type { ExtractionProgress } from '../../models/contracts/topics.ts';
import { groupHookPoints, percent, type HookGroup } from './model-view.ts';

/** Statuses in which a run may still change. */
export function isRunning(status: Extraction['status']): boolean {
  return status === 'queued' || status === 'running';
}

/** True for a hook with one row per token ([batch, pos, ...numbers]): the ones an extraction stores. */
export function isPerTokenHook(h: Architecture['hookPoints'][number]): boolean {
  return h.shape[0] === 'batch' && h.shape[1] === 'pos' && h.shape.slice(2).every((x) => typeof x === 'number');
}

/** The per-token hook points of an architecture, grouped as the forward pass runs (embeddings, blocks, final). */
export function extractableHooks(arch: Architecture): HookGroup[] {
  return groupHookPoints(arch.hookPoints.filter(isPerTokenHook));
}

/** The shape of one stored row: `[256]`, `[8 × 32]`. */
export function rowLabel(shape: readonly (number | string)[]): string {
  return `[${shape.slice(2).join(' × ')}]`;
}

/**
 * A run with a live progress event applied (status, error, progress); an
 * event older than the run's progress is ignored (a late delivery).
 */
export function applyExtractionProgress(run: Extraction, p: ExtractionProgress): Extraction {
  if (p.id !== run.id) return run;
  if (run.progress && p.ts < run.progress.ts) return run;
  return { ...run, status: p.status, error: p.error, progress: p };
}

/** Percentage of tokens done, 0–100 (100 only when complete). */
export function tokensPercent(run: Extraction): number {
  const p = run.progress;
  if (run.status === 'completed') return 100;
  return p ? percent(p.tokensDone, p.tokensTotal) : 0;
}

/** 1234567 → "1,234,567". */
export function formatInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** A short number: 0.000123 → "1.23e-4", 14.5738 → "14.57". */
export function formatStat(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return n.toExponential(2);
  return n.toFixed(a >= 100 ? 1 : a >= 1 ? 2 : 4);
}

/** What the form holds, as text where the user types. */
export interface FormState {
  modelId: string;
  datasetId: string;
  hookPoints: string[];
  dtype: NonNullable<ExtractionSettingsInput['dtype']>;
  storage: NonNullable<ExtractionSettingsInput['storage']>;
  contextLength: string;
  batchSize: string;
  tokenBudget: string;
  /** empty: no overlap */
  stride: string;
  keepBos: boolean;
  prependBos: 'auto' | 'yes' | 'no';
}

/** A typed number, or the text itself when it is not a plain integer (the server's validation then names the field). */
function num(s: string): number | undefined {
  const t = s.replace(/[\s,_]/g, '');
  if (t === '') return undefined;
  return /^-?\d+$/.test(t) ? Number(t) : (t as unknown as number);
}

/** The settings of the form (template body or part of the request). */
export function formSettings(f: FormState): TemplateSettings {
  const out: TemplateSettings = {
    hookPoints: f.hookPoints,
    dtype: f.dtype,
    storage: f.storage,
    keepBos: f.keepBos,
    prependBos: f.prependBos === 'auto' ? null : f.prependBos === 'yes',
  };
  const set = <K extends 'contextLength' | 'batchSize' | 'tokenBudget' | 'stride'>(k: K, v: string) => {
    const n = num(v);
    if (n !== undefined) out[k] = n;
  };
  set('contextLength', f.contextLength);
  set('batchSize', f.batchSize);
  set('tokenBudget', f.tokenBudget);
  set('stride', f.stride);
  if (f.hookPoints.length === 0) delete out.hookPoints;
  return out;
}

/** The `POST /api/extractions` body of the form. */
export function formBody(f: FormState): CreateExtraction {
  const { hookPoints, ...settings } = formSettings(f);
  return { modelId: f.modelId, datasetId: f.datasetId, hookPoints: hookPoints ?? [], ...settings };
}

/** The form with a template's settings applied (what the template leaves out stays as it was). */
export function applyTemplate(f: FormState, t: TemplateSettings): FormState {
  const str = (n: number | null | undefined, fallback: string) => (n === undefined ? fallback : n === null ? '' : String(n));
  return {
    ...f,
    hookPoints: t.hookPoints ?? f.hookPoints,
    dtype: t.dtype ?? f.dtype,
    storage: t.storage ?? f.storage,
    contextLength: str(t.contextLength, f.contextLength),
    batchSize: str(t.batchSize, f.batchSize),
    tokenBudget: str(t.tokenBudget, f.tokenBudget),
    stride: str(t.stride, f.stride),
    keepBos: t.keepBos ?? f.keepBos,
    prependBos: t.prependBos === undefined ? f.prependBos : t.prependBos === null ? 'auto' : t.prependBos ? 'yes' : 'no',
  };
}

/** One line of a run's settings: `ctx 128 · batch 8 · 1,000,000 tokens · fp32 → f16`. */
export function settingsLabel(run: Extraction): string {
  const s = run.settings;
  const extras = [s.stride !== null ? `stride ${s.stride}` : '', s.keepBos ? 'BOS kept' : '', s.prependBos === true ? 'BOS prepended' : ''].filter(Boolean);
  return [`ctx ${s.contextLength}`, `batch ${s.batchSize}`, `${formatInt(s.tokenBudget)} tokens`, `${s.dtype} → ${s.storage}`, ...extras].join(' · ');
}
