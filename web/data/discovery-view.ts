/**
 * Pure helpers of a feature discovery: its phases and progress, what it can
 * run over (extractions, datasets), the form that starts one and its
 * request body, and what a discovery ran over in words. Kept apart from the
 * stores and components so they are tested without a browser.
 */
import type { Dataset } from '../../models/contracts/datasets.ts';
import type { Extraction } from '../../models/contracts/extractions.ts';
import { FEATURE_LIMITS, type CreateDiscovery, type Discovery, type DiscoveryPhase } from '../../models/contracts/features.ts';
import type { Sae } from '../../models/contracts/trainings.ts';
import { formatInt } from './dataset-view.ts';

/** Phases of a discovery, as the page names them. */
export const DISCOVERY_PHASE_LABEL: Record<DiscoveryPhase, string> = { scan: 'scanning activations', examples: 'reading top examples', labels: 'labelling with the LLM', saving: 'saving features' };

/** Statuses in which a discovery may still change. */
export function discoveryActive(status: string): boolean {
  return status === 'queued' || status === 'running';
}

/**
 * Percentage done of a discovery's current phase: rows for the scan and the
 * examples, features written while saving, features labelled (of `dSae`)
 * while labelling; 100 once completed.
 */
export function discoveryPercent(d: { status: string; progress: { phase: DiscoveryPhase; rowsDone: number; rowsTotal: number; featuresLabelled: number } | null }, dSae?: number): number {
  if (d.status === 'completed') return 100;
  const p = d.progress;
  if (!p) return 0;
  if (p.phase === 'labels') return dSae ? Math.min(100, (100 * p.featuresLabelled) / dSae) : 0;
  return p.rowsTotal > 0 ? Math.min(100, (100 * p.rowsDone) / p.rowsTotal) : 0;
}

/** The source picker's value for fresh text from a dataset; other values: `''` (the extraction the SAE was trained on, the server's default) or an extraction's id. */
export const TEXT_SOURCE = 'text';

/** The discovery form as typed. */
export interface DiscoverForm {
  /** `''`: the SAE's training's extraction; an extraction id; or {@link TEXT_SOURCE} */
  source: string;
  /** with TEXT_SOURCE: the dataset ('' = none picked) */
  datasetId: string;
  maxTokens: string;
  contextLength: string;
  topK: string;
  left: string;
  right: string;
}

export const EMPTY_DISCOVER_FORM: DiscoverForm = { source: '', datasetId: '', maxTokens: '', contextLength: '', topK: '', left: '', right: '' };

/** An extraction as the discovery form and rows name it: `demo-model on demo-corpus · 1,000,000 tokens`. */
export function extractionName(e: Pick<Extraction, 'modelName' | 'datasetName' | 'settings'>): string {
  return `${e.modelName ?? 'deleted model'} on ${e.datasetName ?? 'deleted dataset'} · ${formatInt(e.settings.tokenBudget)} tokens`;
}

/** What a discovery of an SAE can run over. */
export interface DiscoveryChoices {
  /** the extraction the SAE was trained on (null: imported, its training deleted, or the extraction gone) */
  trained: Extraction | null;
  /** other completed extractions of the SAE's model that hold its hook point, newest first */
  extractions: Extraction[];
  /** completed datasets tokenized with the SAE's model's tokenizer */
  datasets: Dataset[];
  /** completed datasets tokenized by another model: accepted by the server only when that tokenizer is identical */
  otherDatasets: Dataset[];
}

/**
 * The sources offered for a discovery of `sae`: the extraction it was
 * trained on (`trainedId`), the other completed extractions of its model
 * (any model for an SAE without one) at its hook point, and the completed
 * datasets, those tokenized by its model first. What cannot be checked here
 * (an identical tokenizer of another model, row widths) the server checks.
 */
export function discoveryChoices(sae: Pick<Sae, 'modelId' | 'hookPoint'>, extractions: readonly Extraction[], datasets: readonly Dataset[], trainedId: string | null): DiscoveryChoices {
  const usable = extractions.filter((e) => e.status === 'completed' && e.hookPoints.includes(sae.hookPoint) && (sae.modelId === null || e.modelId === sae.modelId));
  const completed = datasets.filter((d) => d.status === 'completed');
  return {
    trained: extractions.find((e) => e.id === trainedId) ?? null,
    extractions: usable.filter((e) => e.id !== trainedId).sort((a, b) => b.createdAt - a.createdAt),
    datasets: completed.filter((d) => sae.modelId !== null && d.tokenizerModelId === sae.modelId),
    otherDatasets: completed.filter((d) => sae.modelId === null || d.tokenizerModelId !== sae.modelId),
  };
}

/**
 * The source a form starts with, or keeps when the choices reload: the
 * current one while it is still offered; else the extraction the SAE was
 * trained on, the newest other extraction, or fresh text.
 */
export function pickSource(current: string | null, choices: DiscoveryChoices): string {
  const offered = (s: string) => (s === '' ? choices.trained !== null : s === TEXT_SOURCE || choices.extractions.some((e) => e.id === s));
  if (current !== null && offered(current)) return current;
  return choices.trained ? '' : (choices.extractions[0]?.id ?? TEXT_SOURCE);
}

/**
 * The window length of a discovery over text when none is typed, as the
 * server picks it: the SAE's context size (cfg.json `context_size`), else
 * 128, at most the model's context.
 */
export function defaultTextContext(cfg: Record<string, unknown>, modelContext: number | null): number {
  const c = cfg.context_size;
  const own = typeof c === 'number' && Number.isInteger(c) && c >= 2 ? c : FEATURE_LIMITS.DEFAULT_TEXT_CONTEXT;
  return modelContext !== null && modelContext >= 2 ? Math.min(own, modelContext) : own;
}

/**
 * A typed whole number (`4096`, `4,096`, `1_000_000`, `1e6`): undefined for
 * an empty field, NaN when it is not a number.
 */
export function parseCount(s: string): number | undefined {
  const t = s.trim().replace(/[\s,_]/g, '');
  if (t === '') return undefined;
  return /^\+?(\d+\.?\d*|\.\d+)(e\+?\d+)?$/i.test(t) ? Number(t) : NaN;
}

/** What the form checks beyond the fields: the model's context and the dataset's size, when known. */
export interface DiscoverLimits {
  /** tokens a window when the field is empty ({@link defaultTextContext}) */
  defaultContext: number;
  modelContext: number | null;
  /** tokens in the picked dataset */
  datasetTokens: number | null;
}

/**
 * The `POST /api/discoveries` body of the form, or the errors of its fields
 * (keyed as the server names them) when a value is out of bounds here:
 * whole numbers in the contract's ranges, a window no longer than the model's
 * context or the dataset, at least one window of tokens. Empty fields are
 * left out (the server's defaults).
 */
export function discoverBody(saeId: string, f: DiscoverForm, limits: DiscoverLimits): { body: CreateDiscovery | null; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const whole = (field: string, text: string, min: number, max: number): number | undefined => {
    const n = parseCount(text);
    if (n === undefined) return undefined;
    if (!Number.isInteger(n)) errors[field] = 'expected a whole number';
    else if (n < min) errors[field] = `at least ${formatInt(min)}`;
    else if (n > max) errors[field] = `at most ${formatInt(max)}`;
    return n;
  };
  const body: CreateDiscovery = { saeId };
  const topK = whole('topK', f.topK, 1, FEATURE_LIMITS.MAX_TOP_K);
  const left = whole('left', f.left, 0, FEATURE_LIMITS.MAX_CONTEXT);
  const right = whole('right', f.right, 0, FEATURE_LIMITS.MAX_CONTEXT);
  if (topK !== undefined) body.topK = topK;
  if (left !== undefined) body.left = left;
  if (right !== undefined) body.right = right;
  if (f.source === TEXT_SOURCE) {
    if (!f.datasetId) errors.datasetId = 'pick a dataset';
    else body.datasetId = f.datasetId;
    const maxCtx = Math.min(FEATURE_LIMITS.MAX_TEXT_CONTEXT, limits.modelContext ?? Infinity);
    const ctx = whole('contextLength', f.contextLength, 2, maxCtx);
    if (errors.contextLength && limits.modelContext !== null && ctx !== undefined && ctx > limits.modelContext) errors.contextLength = `at most ${formatInt(limits.modelContext)}, the model's context`;
    if (!errors.contextLength && ctx !== undefined && limits.datasetTokens !== null && ctx > limits.datasetTokens) errors.contextLength = `the dataset holds ${formatInt(limits.datasetTokens)} tokens`;
    const maxTokens = whole('maxTokens', f.maxTokens, 1, FEATURE_LIMITS.MAX_TEXT_TOKENS);
    const window = ctx !== undefined && !errors.contextLength ? ctx : limits.defaultContext;
    if (!errors.maxTokens && maxTokens !== undefined && maxTokens < window) errors.maxTokens = `at least one window: ${formatInt(window)} tokens`;
    if (ctx !== undefined) body.contextLength = ctx;
    if (maxTokens !== undefined) body.maxTokens = maxTokens;
  } else if (f.source !== '') {
    body.extractionId = f.source;
  }
  return Object.keys(errors).length ? { body: null, errors } : { body, errors };
}

/** Names of what discoveries ran over, from the lists the page has (undefined: not in them). */
export interface SourceNames {
  extraction(id: string): string | undefined;
  dataset(id: string): string | undefined;
}

/**
 * What a discovery ran over, in words: `stored activations of <extraction>`
 * or `fresh text: <dataset>, N tokens` (the tokens it encoded once its scan
 * is done, else "up to" its budget).
 */
export function discoverySourceText(d: Pick<Discovery, 'source' | 'extractionId' | 'datasetId' | 'text' | 'rows'>, names: SourceNames): string {
  if (d.source === 'text') {
    const name = d.datasetId ? (names.dataset(d.datasetId) ?? `dataset ${d.datasetId.slice(0, 8)}`) : 'a deleted dataset';
    const tokens = d.rows !== null ? `${formatInt(d.rows)} tokens` : d.text ? `up to ${formatInt(d.text.maxTokens)} tokens` : 'tokens';
    return `fresh text: ${name}, ${tokens}`;
  }
  const name = d.extractionId ? (names.extraction(d.extractionId) ?? `extraction ${d.extractionId.slice(0, 8)}`) : 'a deleted extraction';
  return `stored activations of ${name}`;
}
