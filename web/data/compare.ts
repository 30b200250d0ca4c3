/**
 * The Compare page's store: `GET /api/trainings/compare` for the runs and x
 * axis of the view in the URL, parsed with the contract's schema. Refetched
 * when they change (a request superseded by a newer one is aborted); the
 * comparison on screen stays while another x axis loads, and goes when
 * other runs are asked for. While a run of it may still change (queued or
 * running), it is asked again every few seconds, so its curves grow.
 */
import { createEffect, createSignal, onCleanup, type Accessor } from 'solid-js';
import { compareSchema, type Compare, type CompareX } from '../../models/contracts/compare.ts';
import type { ApiError } from '../api.ts';
import { getJson } from '../api.ts';
import { compareApiPath } from './compare-view.ts';
import { asApiError } from './rows.ts';
import { isActive } from './training-view.ts';

/** Reload interval while a compared run is queued or running, ms. */
const ACTIVE_RELOAD_MS = 5000;

export interface CompareStore {
  /** the comparison on screen; undefined before the first answer and after the runs changed */
  data: Accessor<Compare | undefined>;
  /** a request is under way */
  loading: Accessor<boolean>;
  /** the last request's failure (the server's message: a 404 names the unknown training) */
  error: Accessor<ApiError | undefined>;
  reload(): void;
}

/** The comparison of `query().ids` against `query().x` (nothing while no id is given); call inside a component. */
export function createCompareStore(query: Accessor<{ ids: readonly string[]; x: CompareX }>): CompareStore {
  const [data, setData] = createSignal<Compare>();
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<ApiError>();
  const [tick, setTick] = createSignal(0);
  let ac: AbortController | undefined;
  let shownIds = '';
  onCleanup(() => ac?.abort());

  createEffect(() => {
    tick();
    const { ids, x } = query();
    ac?.abort();
    const key = ids.join(',');
    if (key !== shownIds) {
      setData(undefined);
      setError(undefined);
      shownIds = key;
    }
    if (ids.length === 0) {
      setLoading(false);
      return;
    }
    const mine = (ac = new AbortController());
    setLoading(true);
    getJson(compareApiPath({ ids: [...ids], x }), compareSchema, { signal: mine.signal }).then(
      (c) => {
        if (mine.signal.aborted) return;
        setData(c);
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

  // Curves of runs under way grow: asked again while one is.
  createEffect(() => {
    if (!data()?.runs.some((r) => isActive(r.status))) return;
    const timer = setInterval(() => setTick((t) => t + 1), ACTIVE_RELOAD_MS);
    onCleanup(() => clearInterval(timer));
  });

  return { data, loading, error, reload: () => setTick((t) => t + 1) };
}
