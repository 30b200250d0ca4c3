/**
 * When stores poll the API: what the System store asks for and how often,
 * and the cadence at which a page's list (models, datasets, extractions,
 * trainings, discoveries, SAEs) is reloaded. Kept apart from the stores (no
 * Solid, no DOM) so they are tested without a browser.
 */
import type { SystemWindow } from '../../models/contracts/api.ts';
import type { ConnectionState } from '../providers/realtime.ts';

/** Fastest polling the fallback allows, ms, whatever the sampling interval. */
export const MIN_POLL_MS = 500;

/**
 * The polling interval while the socket is down, ms, or null while it is open
 * (live points arrive then). Polling follows the server's sampling interval:
 * polling faster would only fetch the same history again.
 */
export function pollIntervalMs(state: ConnectionState['status'], systemSampleMs: number): number | null {
  if (state === 'open') return null;
  return Math.max(MIN_POLL_MS, systemSampleMs);
}

/** Path of the history request for a window, an optional host and a number of points per series. */
export function historyPath(window: SystemWindow, host: string | undefined, points: number): string {
  const params = new URLSearchParams({ window, points: String(points) });
  if (host) params.set('host', host);
  return `/api/system/metrics?${params}`;
}

/** What the reload cadence of a list depends on. */
export interface ListPollState {
  /** some listed row may still change (its events are subscribed) */
  anyActive: boolean;
  /** the WebSocket is open */
  online: boolean;
  /** the tab is visible */
  visible: boolean;
}

/** Reload interval while a row is active and the WebSocket is down, ms. */
export const LIST_POLL_OFFLINE_MS = 2000;
/** Reload interval otherwise (new rows, missed events), ms. */
export const LIST_POLL_MS = 10_000;

/**
 * Reload interval of a page's list, ms, for the state it is in: every 2 s
 * while a row is active and the WebSocket is down (no live events then);
 * `activeOnlineMs` while a row is active and it is up (a missed event, queue
 * positions); otherwise every 10 s while the tab is visible, for rows made
 * elsewhere (another tab, the HTTP API, a colleague, the worker's first-start
 * demo) that no event announces; never while it is hidden (it reloads when
 * shown again).
 */
export function listReloadMs(s: ListPollState, activeOnlineMs = LIST_POLL_MS): number | null {
  if (s.anyActive && !s.online) return LIST_POLL_OFFLINE_MS;
  if (s.anyActive) return activeOnlineMs;
  return s.visible ? LIST_POLL_MS : null;
}

export interface ListPoller {
  /** the list's state changed: the next reload is due `listReloadMs` after the last one (at once if that is past) */
  set(state: ListPollState): void;
  stop(): void;
}

/**
 * Calls `reload` on the cadence of {@link listReloadMs}, one call at a time,
 * counted from the previous call: a tab made visible again after a while
 * reloads at once, a state change does not reload twice in a row. The list
 * is taken as loaded at creation (stores load it when they start).
 */
export function createListPoller(reload: () => Promise<unknown>, activeOnlineMs = LIST_POLL_MS): ListPoller {
  let every: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = Date.now();
  let inFlight = false;
  let stopped = false;
  const schedule = () => {
    clearTimeout(timer);
    timer = undefined;
    if (stopped || inFlight || every === null) return;
    timer = setTimeout(tick, Math.max(0, last + every - Date.now()));
  };
  const tick = () => {
    timer = undefined;
    inFlight = true;
    last = Date.now();
    void reload()
      .catch(() => undefined)
      .finally(() => {
        inFlight = false;
        schedule();
      });
  };
  return {
    set(state) {
      every = listReloadMs(state, activeOnlineMs);
      schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
