/**
 * What every list store (models, datasets, extractions, trainings) shares:
 * its rows reconciled by id, so a row keeps its identity across updates and
 * its card (an open detail view, its charts) survives every event; a reload
 * whose answer is dropped when a newer request overtook it, and which keeps a
 * live progress event newer than the listing (the event may have raced the
 * request); one row fetched again, or dropped when the server no longer has
 * it; and the loading and error signals. The stores add their topics
 * (live.ts) and their actions.
 */
import { createSignal, type Accessor } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import { ApiError, errorMessage } from '../api.ts';

export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('unknown', errorMessage(err), 0);
}

/** A row with the progress its live events carry (`ts`: when it was measured). */
export interface LiveRow<P extends { ts: number }> {
  id: string;
  progress?: P | null;
}

export interface RowListOptions<T extends LiveRow<P>, P extends { ts: number }, L> {
  /** the list request */
  load(): Promise<L>;
  rowsOf(res: L): T[];
  /** the rest of the list answer (e.g. a limit the page shows) */
  onList?(res: L): void;
  /** a row with a live progress event applied */
  apply(row: T, live: P): T;
  /** whether a live event newer than the listing still counts for this listed row (default: always) */
  keepLive?(row: T): boolean;
  /** one row, fresh from the server */
  fetchOne?(id: string): Promise<T>;
  /** where a row new to the list goes (default: first) */
  newRows?: 'first' | 'last';
}

/** What every list store offers beside its rows: the first load under way, the last load's error, and a reload. */
export interface ListStore {
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  reload(): Promise<void>;
}

export interface RowList<T, P> {
  rows: Accessor<T[]>;
  setRows(next: T[] | ((list: T[]) => T[])): void;
  /** puts a row in place of the one with its id, or adds it */
  replace(row: T): void;
  remove(id: string): void;
  /**
   * Applies a live progress event to the row it is about: the row before and
   * after, or undefined when no listed row changed (not listed, or a late event).
   */
  applyLive(p: P & { id: string }): { before: T; after: T } | undefined;
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  reload(): Promise<void>;
  /** fetches one row again; a 404 drops it */
  refresh(id: string): Promise<void>;
}

/** Creates the rows of a list store; call inside a component. Loads once at creation. */
export function createRowList<T extends LiveRow<P>, P extends { ts: number }, L>(o: RowListOptions<T, P, L>): RowList<T, P> {
  const [state, setState] = createStore<{ list: T[] }>({ list: [] });
  const rows = () => state.list;
  const setRows = (next: T[] | ((list: T[]) => T[])) => setState('list', reconcile(typeof next === 'function' ? next(state.list) : next, { key: 'id', merge: true }));
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<ApiError>();
  const replace = (row: T) =>
    setRows((list) => (list.some((x) => x.id === row.id) ? list.map((x) => (x.id === row.id ? row : x)) : o.newRows === 'last' ? [...list, row] : [row, ...list]));
  const remove = (id: string) => setRows((list) => list.filter((x) => x.id !== id));
  const applyLive = (p: P & { id: string }) => {
    const before = rows().find((r) => r.id === p.id);
    if (!before) return undefined;
    const after = o.apply(before, p);
    if (after === before) return undefined;
    replace(after);
    return { before, after };
  };

  let request = 0;
  async function reload(): Promise<void> {
    const id = ++request;
    try {
      const res = await o.load();
      if (id !== request) return;
      const current = new Map(rows().map((r) => [r.id, r]));
      setRows(
        o.rowsOf(res).map((r) => {
          const live = current.get(r.id)?.progress;
          return live && r.progress && live.ts > r.progress.ts && (o.keepLive?.(r) ?? true) ? o.apply(r, live) : r;
        }),
      );
      o.onList?.(res);
      setError(undefined);
    } catch (err) {
      if (id === request) setError(asApiError(err));
    } finally {
      if (id === request) setLoading(false);
    }
  }

  async function refresh(id: string): Promise<void> {
    if (!o.fetchOne) return reload();
    try {
      replace(await o.fetchOne(id));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) remove(id);
    }
  }

  void reload();
  return { rows, setRows, replace, remove, applyLive, loading, error, reload, refresh };
}
