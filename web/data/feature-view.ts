/**
 * Pure helpers of the Features pages: the list query as it lives in the URL
 * and as the API takes it, the log-scale frequency slider, token highlight
 * intensities, histogram bars, the score's explanation and discovery
 * progress, kept apart from the stores and components so they are tested
 * without a browser.
 */

import { FEATURE_LIMITS, FEATURE_SORTS, featureId, type DiscoveryPhase, type FeatureSort, type LabelSource } from '../../models/contracts/features.ts';

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
