/**
 * The Features list's view as it lives in the URL and as the API takes it:
 * the query (search, token, frequency range, favourites, sort, page), its
 * search params and links, the log-scale frequency slider, and the debounce
 * of typing into it. Pure, so it is tested without a browser.
 */
import { FEATURE_LIMITS, FEATURE_SORTS, featureId, type FeatureSort } from '../../models/contracts/features.ts';

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
 * The sort after a click on a column header: descending first for values
 * (the biggest are what one looks for), ascending first for the index (0, 1,
 * 2…); the other way on a second click.
 */
export function nextSort(current: FeatureSort, column: 'score' | 'frequency' | 'max' | 'index'): FeatureSort {
  if (column === 'index') return current === 'index' ? '-index' : 'index';
  return current === `-${column}` ? column : `-${column}`;
}

/** How a column header shows the current sort: '↓' descending, '↑' ascending, '' another column. */
export function sortMark(current: FeatureSort, column: 'score' | 'frequency' | 'max' | 'index'): string {
  if (current === `-${column}`) return '↓';
  if (current === column) return '↑';
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
