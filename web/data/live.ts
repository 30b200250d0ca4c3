/**
 * The live part of a page's list of runs (downloads, imports, extractions):
 * one subscription to each active row's topic, and polling of the list while
 * any row is active — every 2 s while the WebSocket is down, every 10 s while
 * it is up (to catch what a missed event would have said), never when nothing
 * runs.
 */
import { createEffect, onCleanup, type Accessor } from 'solid-js';
import { realtime } from '../providers/realtime.ts';

/** Reload interval while the WebSocket is down. */
export const POLL_OFFLINE_MS = 2000;
/** Reload interval while it is up. */
export const POLL_ONLINE_MS = 10_000;

export interface WatchOptions<R extends { id: string }> {
  rows: Accessor<readonly R[]>;
  isActive(row: R): boolean;
  /** the topic of a row, e.g. `model/${id}` */
  topic(id: string): string;
  onEvent(data: unknown): void;
  reload(): Promise<void>;
}

/** Call inside a reactive owner (a component or createRoot): subscriptions and timers end with it. */
export function watchActiveRows<R extends { id: string }>(o: WatchOptions<R>): void {
  const subs = new Map<string, () => void>();
  createEffect(() => {
    const active = new Set(o.rows().filter((r) => o.isActive(r)).map((r) => r.id));
    for (const id of active) if (!subs.has(id)) subs.set(id, realtime.subscribe(o.topic(id), (d) => o.onEvent(d)));
    for (const [id, unsubscribe] of subs) {
      if (active.has(id)) continue;
      unsubscribe();
      subs.delete(id);
    }
  });
  onCleanup(() => {
    for (const unsubscribe of subs.values()) unsubscribe();
    subs.clear();
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopPolling: (() => void) | undefined;
  createEffect(() => {
    const anyActive = o.rows().some((r) => o.isActive(r));
    const online = realtime.status().status === 'open';
    clearTimeout(timer);
    stopPolling?.();
    stopPolling = undefined;
    if (!anyActive) return;
    if (!online) stopPolling = realtime.startPolling();
    const tick = () => {
      void o.reload().finally(() => (timer = setTimeout(tick, online ? POLL_ONLINE_MS : POLL_OFFLINE_MS)));
    };
    timer = setTimeout(tick, online ? POLL_ONLINE_MS : POLL_OFFLINE_MS);
  });
  onCleanup(() => {
    clearTimeout(timer);
    stopPolling?.();
  });
}
