/**
 * Pure helpers of the Features pages: the list query as it lives in the URL
 * and as the API takes it, the log-scale frequency slider, token highlight
 * intensities, histogram bars, the score's explanation and discovery
 * progress, kept apart from the stores and components so they are tested
 * without a browser.
 */

import type { Dataset } from '../../models/contracts/datasets.ts';
import type { Extraction } from '../../models/contracts/extractions.ts';
import { FEATURE_LIMITS, FEATURE_SORTS, featureId, type CreateDiscovery, type Discovery, type DiscoveryPhase, type FeatureSort, type LabelSource } from '../../models/contracts/features.ts';
import type { Sae } from '../../models/contracts/trainings.ts';
import { formatInt } from './dataset-view.ts';

export { featureId, type FeatureSort };
/** The API's default order. */
export const DEFAULT_SORT: FeatureSort = '-score';
/** Rows a page of the table, by default, and the choices offered. */
export const DEFAULT_PAGE_SIZE: number = FEATURE_LIMITS.DEFAULT_PAGE;
export const PAGE_SIZES = [25, 50, 100, 200] as const;

/** The table's view: what the URL holds and the API is asked. Frequencies are fractions 0..1. */
export interface FeatureListQuery {
  sae: string | null;
  /** label substring */
  q: string;
  /** a token as the tokenizer shows it (" Moses") or `#123` */
  token: string;
  minFreq: number | null;
  maxFreq: number | null;
  favourite: boolean;
  sort: FeatureSort;
  /** 1-based */
  page: number;
  limit: number;
}

export const EMPTY_QUERY: FeatureListQuery = { sae: null, q: '', token: '', minFreq: null, maxFreq: null, favourite: false, sort: DEFAULT_SORT, page: 1, limit: DEFAULT_PAGE_SIZE };

type Params = Partial<Record<string, string | string[] | undefined>>;
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

function fraction(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : null;
}

/**
 * The list query from the page's search params (as `useSearchParams` gives
 * them); what is missing or malformed takes its default.
 * @example parseListQuery({ sae: 'abc', q: 'moses', sort: 'max' })
 */
export function parseListQuery(p: Params): FeatureListQuery {
  const sort = one(p.sort);
  const page = Number(one(p.page));
  const limit = Number(one(p.limit));
  return {
    sae: one(p.sae) || null,
    q: one(p.q) ?? '',
    token: one(p.token) ?? '',
    minFreq: fraction(one(p.minFreq)),
    maxFreq: fraction(one(p.maxFreq)),
    favourite: one(p.fav) === '1',
    sort: (FEATURE_SORTS as readonly string[]).includes(sort ?? '') ? (sort as FeatureSort) : DEFAULT_SORT,
    page: Number.isInteger(page) && page >= 1 ? page : 1,
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : DEFAULT_PAGE_SIZE,
  };
}

/**
 * The search params of a query, defaults left out (so that a plain view has a
 * plain URL); every key present, `undefined` where it goes, as
 * `setSearchParams` expects to clear it.
 */
export function listSearchParams(q: FeatureListQuery): Record<string, string | undefined> {
  return {
    sae: q.sae ?? undefined,
    q: q.q || undefined,
    token: q.token || undefined,
    minFreq: q.minFreq === null ? undefined : String(q.minFreq),
    maxFreq: q.maxFreq === null ? undefined : String(q.maxFreq),
    fav: q.favourite ? '1' : undefined,
    sort: q.sort === DEFAULT_SORT ? undefined : q.sort,
    page: q.page === 1 ? undefined : String(q.page),
    limit: q.limit === DEFAULT_PAGE_SIZE ? undefined : String(q.limit),
  };
}

/** `?a=1&b=2` of a query (empty when it is all defaults), for links that reproduce a view. */
export function listSearch(q: FeatureListQuery): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(listSearchParams(q))) if (v !== undefined) s.set(k, v);
  const text = s.toString();
  return text ? `?${text}` : '';
}

/** The `GET /api/features` path of a query (which must have an SAE). */
export function featuresApiPath(q: FeatureListQuery): string {
  const s = new URLSearchParams({ sae: q.sae ?? '' });
  if (q.q.trim()) s.set('q', q.q.trim());
  if (q.token) s.set('token', q.token);
  if (q.minFreq !== null) s.set('minFreq', String(q.minFreq));
  if (q.maxFreq !== null) s.set('maxFreq', String(q.maxFreq));
  if (q.favourite) s.set('favourite', 'true');
  s.set('sort', q.sort);
  s.set('limit', String(q.limit));
  s.set('offset', String((q.page - 1) * q.limit));
  return `/api/features?${s}`;
}

/** Pages of a result of `total` rows, at least 1. */
export function pageCount(total: number, limit: number): number {
  return Math.max(1, Math.ceil(total / Math.max(1, limit)));
}

/**
 * The sort after a click on a column header: descending first (the biggest
 * values are what one looks for), the other way on a second click. The index
 * sorts ascending only.
 */
export function nextSort(current: FeatureSort, column: 'score' | 'frequency' | 'max' | 'index'): FeatureSort {
  if (column === 'index') return 'index';
  return current === `-${column}` ? column : `-${column}`;
}

/** How a column header shows the current sort: '↓', '↑' or ''. */
export function sortMark(current: FeatureSort, column: 'score' | 'frequency' | 'max' | 'index'): string {
  if (current === `-${column}`) return '↓';
  if (current === column) return column === 'index' ? '↓' : '↑';
  return '';
}

/** The frequency sliders' range, log10 of a fraction: 0.001 % … 100 %. */
export const FREQ_SLIDER = { min: -5, max: 0, step: 0.05 } as const;

/** The slider position of a bound (an open bound sits at its end). */
export function freqToSlider(f: number | null, end: 'min' | 'max'): number {
  if (f === null || !(f > 0)) return end === 'min' ? FREQ_SLIDER.min : FREQ_SLIDER.max;
  return Math.max(FREQ_SLIDER.min, Math.min(FREQ_SLIDER.max, Math.log10(f)));
}

/**
 * The bound of a slider position: null (no bound) at the slider's own end,
 * else 10^v rounded to 3 significant digits (so that URLs stay short).
 */
export function sliderToFreq(v: number, end: 'min' | 'max'): number | null {
  if (end === 'min' && v <= FREQ_SLIDER.min + 1e-9) return null;
  if (end === 'max' && v >= FREQ_SLIDER.max - 1e-9) return null;
  return Number((10 ** v).toPrecision(3));
}

/**
 * A fraction as a percentage with the digits it needs: 0.5 → "50 %",
 * 0.000123 → "0.0123 %", 0 → "0 %".
 */
export function formatFrequency(f: number): string {
  if (!Number.isFinite(f)) return '–';
  if (f === 0) return '0 %';
  const pct = f * 100;
  const digits = pct >= 10 ? 0 : Math.max(1, Math.min(6, 1 - Math.floor(Math.log10(pct))));
  return `${pct.toFixed(digits)} %`;
}

/** An activation value: 3 significant digits, no exponent for ordinary sizes. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

/** A score 0..1 as "0.80". */
export function formatScore(s: number | null): string {
  return s === null || !Number.isFinite(s) ? '–' : s.toFixed(2);
}

/**
 * A token filter as typed → as the API takes it: the visible whitespace of
 * the page (`·` space, `↵` line break, `→` tab) back to the characters; `#123`
 * (a token id) unchanged.
 * @example tokenFilterValue('·Moses') // ' Moses'
 */
export function tokenFilterValue(typed: string): string {
  if (/^#\d+$/.test(typed.trim())) return typed.trim();
  return typed.replace(/·/g, ' ').replace(/↵/g, '\n').replace(/→/g, '\t');
}

/** The inverse of {@link tokenFilterValue}, for showing a filter from the URL in its input. */
export function tokenFilterInput(value: string): string {
  return value.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→');
}

/** One piece of a token's display: text, or a whitespace character shown as a glyph. */
export interface TokenPiece {
  text: string;
  ws: boolean;
}

/**
 * A token's text split into plain text and visible whitespace glyphs (`·`
 * space, `↵` line break, `→` tab), so that a strip of tokens shows every
 * character without breaking lines.
 * @example tokenPieces(' the\n') // [{·, ws}, {the}, {↵, ws}]
 */
export function tokenPieces(text: string): TokenPiece[] {
  const out: TokenPiece[] = [];
  for (const part of text.split(/(\r?\n| |\t)/)) {
    if (part === '') continue;
    const glyph = part === ' ' ? '·' : part === '\t' ? '→' : part === '\n' || part === '\r\n' ? '↵' : undefined;
    if (glyph) out.push({ text: glyph, ws: true });
    else out.push({ text: part, ws: false });
  }
  if (out.length === 0) out.push({ text: '∅', ws: true });
  return out;
}

/** A token's text for a label or tooltip: JSON-quoted, so that whitespace is plain to see (`" Moses"`, `"\n"`). */
export function quoteToken(text: string): string {
  return JSON.stringify(text);
}

/**
 * A token's highlight intensity, 0..1: its activation relative to the
 * feature's max (the strongest activation over the whole scan, so strips of
 * different examples compare). Negative or missing values are 0.
 */
export function intensity(value: number, max: number): number {
  if (!(max > 0) || !(value > 0)) return 0;
  return Math.min(1, value / max);
}

/** The highlight colour of an intensity: the page's orange at that opacity (2 decimals). */
export function highlightColor(a: number): string {
  return `rgba(249, 115, 22, ${Math.round(Math.max(0, Math.min(1, a)) * 100) / 100})`;
}

/** One bar of an activation histogram: values in `[x0, x1)`. */
export interface HistogramBar {
  x0: number;
  x1: number;
  count: number;
}

/**
 * The bars of a histogram (log-spaced `edges`, `counts.length + 1` of them)
 * with the empty bins at both ends trimmed off (one kept on each side for
 * context); all of them when every bin is empty.
 */
export function histogramBars(h: { edges: number[]; counts: number[] }): HistogramBar[] {
  const bars = h.counts.map((count, i) => ({ x0: h.edges[i]!, x1: h.edges[i + 1]!, count }));
  const first = bars.findIndex((b) => b.count > 0);
  if (first < 0) return bars;
  let last = bars.length - 1;
  while (bars[last]!.count === 0) last--;
  return bars.slice(Math.max(0, first - 1), Math.min(bars.length, last + 2));
}

/** What a heuristic label's kind means, for the score's explanation. */
export interface ScoreExplanation {
  /** e.g. "8 of 10" */
  agree: string;
  text: string;
}

/**
 * The interpretability score in words: the share of the top examples that
 * agree with the label — they peak on the label's token (`token`), or the
 * token before their peak is the label's (`after`).
 */
export function explainScore(score: number | null, examples: number, kind: 'token' | 'after' | 'none'): ScoreExplanation {
  if (score === null || kind === 'none' || examples === 0) return { agree: '–', text: 'No score: the feature never fired in the scanned activations, so it has no top examples.' };
  const n = Math.round(score * examples);
  const agree = `${n} of ${examples}`;
  const what = kind === 'token' ? 'peak on the label’s token' : 'have the label’s token just before their peak';
  return {
    agree,
    text: `${agree} top examples ${what}. 1.00 means every top example agrees with the label; 1/${examples} (${(1 / examples).toFixed(2)}) that they share nothing. High scores mark features that are easy to read.`,
  };
}

/** The source of a label, as the page names it. */
export function labelSourceText(source: LabelSource | null): string {
  switch (source) {
    case 'user':
      return 'edited';
    case 'llm':
      return 'LLM';
    case 'heuristic':
      return 'heuristic';
    default:
      return 'no label';
  }
}

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

// ---------------------------------------------------------------------------
// The discovery form: where the activations come from

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

/** The page of a feature, with the list's view kept in its query (its back link returns to it). */
export function featureHref(saeId: string, index: number, list?: FeatureListQuery): string {
  return `/features/${saeId}/${index}${list ? listSearch({ ...list, sae: null }) : ''}`;
}

/**
 * Calls `fn` once `ms` after the last call (the arguments of that last call);
 * `flush` runs a pending call now, `cancel` drops it.
 */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): ((...args: A) => void) & { flush(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: A | undefined;
  const run = () => {
    timer = undefined;
    const args = pending;
    pending = undefined;
    if (args) fn(...args);
  };
  const call = (...args: A) => {
    pending = args;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  call.flush = () => {
    clearTimeout(timer);
    run();
  };
  call.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
    pending = undefined;
  };
  return call;
}
