/**
 * The top bar's figures of the server's host: CPU, memory and each GPU, live
 * from the `system/*` topics, and on the first paint the last sample the
 * server stored (`GET /api/system/metrics`), so that they are not blank
 * until the next sample arrives (one every LOUPE_SYSTEM_SAMPLE_MS).
 */
import { createSignal, onCleanup, type Accessor } from 'solid-js';
import { systemMetricsSchema } from '../../models/contracts/api.ts';
import type { GpuSample } from '../../models/contracts/topics.ts';
import { getJson } from '../api.ts';
import { realtime } from '../providers/realtime.ts';
import { loadConfig } from './config.ts';
import { historyPath } from './poll.ts';

/** GPU topics subscribed (a host has at most this many, usually). */
const GPU_TOPICS = 8;

export interface HostStatusStore {
  host: Accessor<string | undefined>;
  /** CPU busy, % */
  cpu: Accessor<number | undefined>;
  /** memory used and total, bytes */
  memory: Accessor<{ used: number; total: number } | undefined>;
  gpus: Accessor<GpuSample[]>;
}

/** Creates the store; call inside a component (it owns its subscriptions). */
export function createHostStatusStore(): HostStatusStore {
  const [host, setHost] = createSignal<string>();
  const [cpu, setCpu] = createSignal<number>();
  const [memory, setMemory] = createSignal<{ used: number; total: number }>();
  const [gpus, setGpus] = createSignal<GpuSample[]>([]);
  /** a live sample arrived: the stored one, older, must not replace it */
  let live = false;
  const mine = (h: string) => host() === undefined || h === host();
  const ac = new AbortController();
  void loadConfig()
    .then(async (c) => {
      setHost(c.host);
      const res = await getJson(`${historyPath('15m', c.host, 10)}&metrics=${encodeURIComponent('cpu.total,mem.used,mem.total')}`, systemMetricsSchema, { signal: ac.signal });
      const last = (m: string) => res.series[m]?.last.at(-1);
      if (live) return;
      const c0 = last('cpu.total');
      const used = last('mem.used');
      const total = last('mem.total');
      if (c0 !== undefined) setCpu(c0);
      if (used !== undefined && total !== undefined) setMemory({ used, total });
    })
    .catch(() => undefined); // no history yet (a fresh start): the first live sample fills them
  const subs = [
    realtime.subscribe('system/cpu', (c) => {
      if (!mine(c.host)) return;
      live = true;
      setCpu(c.total);
    }),
    realtime.subscribe('system/memory', (m) => {
      if (!mine(m.host)) return;
      live = true;
      setMemory({ used: m.used, total: m.total });
    }),
    ...Array.from({ length: GPU_TOPICS }, (_, i) =>
      realtime.subscribe(`system/gpu/${i}`, (g) => {
        if (!mine(g.host)) return;
        setGpus((list) => [...list.filter((x) => x.index !== g.index), g].sort((a, b) => a.index - b.index));
      }),
    ),
  ];
  onCleanup(() => {
    subs.forEach((u) => u());
    ac.abort();
  });
  return { host, cpu, memory, gpus };
}
