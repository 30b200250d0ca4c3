/**
 * The System page's store: history of the chosen host and window from
 * `GET /api/system/metrics`, extended live from the `system/*` topics, and
 * re-polled from the API while the WebSocket is down.
 */
import { createEffect, createMemo, createSignal, onCleanup, untrack, type Accessor } from 'solid-js';
import { systemMetricsSchema, WINDOW_MS, type SystemWindow } from '../../models/contracts/api.ts';
import { cpuPoints, diskPoints, gpuPoints, memoryPoints, networkPoints, type GpuSample, type MetricPoint } from '../../models/system/types.ts';
import { ApiError, getJson } from '../api.ts';
import { realtime } from '../providers/realtime.ts';
import { loadConfig } from './config.ts';
import { historyPath, pollIntervalMs } from './poll.ts';
import { appendPoint, fromHistory, trimBefore, type ClientSeries } from './series.ts';

/** GPU topics subscribed before history has named any (a host has at most this many, usually). */
const GPU_TOPICS_ALWAYS = 8;
/** Points per history series: about one per 3 px of a wide chart. */
const POINTS = 300;

export interface SystemStore {
  /** changes whenever any series changed; read it to redraw */
  version: Accessor<number>;
  series(metric: string): ClientSeries | undefined;
  /** metrics whose names start with `prefix` */
  metrics(prefix: string): string[];
  host: Accessor<string | undefined>;
  hosts: Accessor<string[]>;
  gpus: Accessor<{ index: number; name: string; latest?: GpuSample }[]>;
  /** [from, to] of the visible window, ms */
  range: Accessor<[number, number]>;
  loading: Accessor<boolean>;
  error: Accessor<ApiError | undefined>;
  reload(): void;
}

/** Creates the store; call inside a component (it owns subscriptions and timers). */
export function createSystemStore(window: Accessor<SystemWindow>, chosenHost: Accessor<string | undefined>): SystemStore {
  let series: Record<string, ClientSeries> = {};
  let bucketMs = 1000;
  const [version, setVersion] = createSignal(0);
  const [host, setHost] = createSignal<string>();
  const [hosts, setHosts] = createSignal<string[]>([]);
  const [gpuList, setGpuList] = createSignal<{ index: number; name: string; latest?: GpuSample }[]>([]);
  const [range, setRange] = createSignal<[number, number]>([Date.now() - WINDOW_MS[window()], Date.now()]);
  const [loading, setLoading] = createSignal(true);
  const [error, setError] = createSignal<ApiError>();
  const [reloads, setReloads] = createSignal(0);
  let request = 0;
  /** history requests under way (a poll is skipped rather than superseding a slow one) */
  let inFlight = 0;

  // One redraw per frame: a sample arrives as several messages (cpu, memory, disk, network, each GPU).
  let frame: number | undefined;
  const bump = () => {
    if (frame !== undefined) return;
    frame = requestAnimationFrame(() => {
      frame = undefined;
      setVersion((v) => v + 1);
    });
  };
  onCleanup(() => frame !== undefined && cancelAnimationFrame(frame));

  async function load(): Promise<void> {
    const id = ++request;
    inFlight++;
    const win = window();
    const picked = chosenHost();
    try {
      const h = picked ?? host() ?? (await loadConfig().then((c) => c.host).catch(() => undefined));
      const res = await getJson(historyPath(win, h, POINTS), systemMetricsSchema).catch(async (err) => {
        // The server's own host has no history yet (first seconds after a start): take the default.
        if (err instanceof ApiError && err.status === 404 && !picked) return getJson(historyPath(win, undefined, POINTS), systemMetricsSchema);
        throw err;
      });
      if (id !== request) return;
      series = Object.fromEntries(Object.entries(res.series).map(([k, s]) => [k, fromHistory(s)]));
      bucketMs = res.bucketMs;
      setHost(res.host ?? h);
      setHosts(res.hosts);
      const known = new Map(gpuList().map((g) => [g.index, g]));
      setGpuList(res.gpus.map((g) => known.get(g.index) ?? g));
      setRange([res.from, res.to]);
      setError(undefined);
      bump();
    } catch (err) {
      if (id === request) setError(err instanceof ApiError ? err : new ApiError('unknown', String(err), 0));
    } finally {
      inFlight--;
      if (id === request) setLoading(false);
    }
  }

  function addLive(sampleHost: string, ts: number, points: MetricPoint[]): void {
    if (sampleHost !== host()) return;
    for (const p of points) {
      let s = series[p.metric];
      if (!s) series[p.metric] = s = { t: [], v: [], min: [], max: [] };
      appendPoint(s, ts, p.value, bucketMs);
    }
    const from = ts - WINDOW_MS[window()];
    for (const s of Object.values(series)) trimBefore(s, from);
    setRange([from, ts]);
    bump();
  }

  // Reload when the window or the chosen host changes (and on retry).
  createEffect(() => {
    window();
    chosenHost();
    reloads();
    setLoading(true);
    untrack(() => void load());
  });

  // Live points: each host topic flattened with the same functions the server stores history with.
  const unsubscribers = [
    realtime.subscribe('system/cpu', (s) => addLive(s.host, s.ts, cpuPoints(s))),
    realtime.subscribe('system/memory', (s) => addLive(s.host, s.ts, memoryPoints(s))),
    realtime.subscribe('system/disk', (s) => addLive(s.host, s.ts, diskPoints(s))),
    realtime.subscribe('system/network', (s) => addLive(s.host, s.ts, networkPoints(s))),
  ];
  const gpuSubs = new Map<number, () => void>();
  const watchGpu = (index: number) => {
    if (gpuSubs.has(index)) return;
    gpuSubs.set(
      index,
      realtime.subscribe(`system/gpu/${index}`, (g) => {
        if (g.host !== host()) return;
        const list = gpuList();
        const at = list.findIndex((x) => x.index === g.index);
        const entry = { index: g.index, name: g.name, latest: g };
        setGpuList(at < 0 ? [...list, entry].sort((a, b) => a.index - b.index) : list.map((x, i) => (i === at ? entry : x)));
        addLive(g.host, g.ts, gpuPoints(g));
      }),
    );
  };
  for (let i = 0; i < GPU_TOPICS_ALWAYS; i++) watchGpu(i);
  createEffect(() => gpuList().forEach((g) => watchGpu(g.index)));

  // Polling fallback: while the socket is not open, re-read history every sample interval. Keyed on
  // open / not open only, so the connecting ⇄ closed flips of a reconnect loop do not restart the timer.
  const open = createMemo(() => realtime.status().status === 'open');
  createEffect(() => {
    if (open()) return;
    let timer: ReturnType<typeof setInterval> | undefined;
    let cancelled = false;
    const stopPolling = realtime.startPolling();
    void loadConfig()
      .then((c) => c.systemSampleMs)
      .catch(() => 2000)
      .then((ms) => {
        const every = pollIntervalMs('closed', ms);
        if (!cancelled && every !== null) timer = setInterval(() => inFlight === 0 && void load(), every);
      });
    onCleanup(() => {
      cancelled = true;
      clearInterval(timer);
      stopPolling();
    });
  });
  // Back online: fill the gap the socket missed.
  let wasOpen = untrack(open);
  createEffect(() => {
    const now = open();
    if (now && !wasOpen) untrack(() => void load());
    wasOpen = now;
  });

  onCleanup(() => {
    unsubscribers.forEach((u) => u());
    gpuSubs.forEach((u) => u());
  });

  return {
    version,
    series: (metric) => {
      version();
      return series[metric];
    },
    metrics: (prefix) => {
      version();
      return Object.keys(series)
        .filter((k) => k.startsWith(prefix))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    },
    host,
    hosts,
    gpus: gpuList,
    range,
    loading,
    error,
    reload: () => setReloads((n) => n + 1),
  };
}
