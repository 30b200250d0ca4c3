/**
 * The live part of a page's list (downloads, imports, extractions,
 * trainings, discoveries, SAEs): one subscription to each active row's
 * topic, and reloads of the list — every 2 s while a row is active and the
 * WebSocket is down, every 10 s otherwise while the tab is visible (rows made
 * elsewhere: another tab, the HTTP API, the worker's first-start demo; and
 * what a missed event would have said), at once when a hidden tab is shown
 * again after that long (cadence in poll.ts).
 */
import { createEffect, createMemo, createSignal, onCleanup, type Accessor } from 'solid-js';
import type { Topic, TopicPayloads } from '../../models/contracts/topics.ts';
import { realtime } from '../providers/realtime.ts';
import { createListPoller, LIST_POLL_MS } from './poll.ts';

const hidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';
const [visible, setVisible] = createSignal(!hidden());
if (typeof document !== 'undefined') document.addEventListener('visibilitychange', () => setVisible(!hidden()));

export interface PollListOptions {
  reload(): Promise<unknown>;
  /** some listed row may still change (default: none) */
  anyActive?: Accessor<boolean>;
  /** reload interval while a row is active and the WebSocket is up, ms (default 10 s) */
  activeOnlineMs?: number;
}

/**
 * Reloads a list on the cadence of poll.ts's `listReloadMs`; call inside a
 * reactive owner (a component or createRoot), after the store's first load:
 * the timers end with it. While a row is active and the socket is down, the
 * connection indicator says "polling".
 */
export function pollList(o: PollListOptions): void {
  const poller = createListPoller(() => o.reload(), o.activeOnlineMs ?? LIST_POLL_MS);
  onCleanup(() => poller.stop());
  // Memos: the cadence changes only when one of them flips, not at every event or reconnect attempt.
  const anyActive = createMemo(() => o.anyActive?.() ?? false);
  const online = createMemo(() => realtime.status().status === 'open');
  createEffect(() => {
    const state = { anyActive: anyActive(), online: online(), visible: visible() };
    poller.set(state);
    if (state.anyActive && !state.online) onCleanup(realtime.startPolling());
  });
}

export interface WatchOptions<R extends { id: string }, T extends Topic> {
  rows: Accessor<readonly R[]>;
  isActive(row: R): boolean;
  /** the topic of a row, e.g. `model/${id}` */
  topic(id: string): T;
  /** a live event of an active row, typed by the topic registry */
  onEvent(data: TopicPayloads[T]): void;
  reload(): Promise<void>;
  /** list reload interval while a row is active and the WebSocket is up, ms (default: poll.ts's) */
  activeOnlineMs?: number;
}

/** Call inside a reactive owner (a component or createRoot): subscriptions and timers end with it. */
export function watchActiveRows<R extends { id: string }, T extends Topic>(o: WatchOptions<R, T>): void {
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
  pollList({ reload: o.reload, anyActive: () => o.rows().some((r) => o.isActive(r)), activeOnlineMs: o.activeOnlineMs });
}
