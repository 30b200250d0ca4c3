/**
 * What the System store asks the API for, and when it polls: pure functions,
 * kept apart from the store so they are tested without a browser.
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
