/**
 * The nav bar's right side: connection indicator and a compact live status of
 * the server's host (CPU, memory, each GPU's utilisation and memory).
 */
import { createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import type { CpuSample, GpuSample, MemorySample } from '../../models/contracts/topics.ts';
import { loadConfig } from '../data/config.ts';
import { realtime } from '../providers/realtime.ts';
import { formatPercent } from './format.ts';

export function ConnectionIndicator() {
  const [now, setNow] = createSignal(Date.now());
  const timer = setInterval(() => setNow(Date.now()), 500);
  onCleanup(() => clearInterval(timer));
  const text = () => {
    const s = realtime.status();
    if (s.status === 'open') return 'live';
    // "polling" only when a page really polls the API meanwhile (the System page does).
    const polling = realtime.polling() ? ' · polling' : '';
    if (s.status === 'connecting') return `connecting…${polling}`;
    const secs = Math.max(0, Math.ceil((s.retryAt - now()) / 1000));
    return `reconnecting in ${secs} s${polling}`;
  };
  return (
    <span class={`conn conn-${realtime.status().status}`} data-testid="conn-status" title={(() => { const s = realtime.status(); return s.status === 'closed' ? s.reason : 'WebSocket connected'; })()}>
      <i class="conn-dot" />
      {text()}
    </span>
  );
}

export function NavStatus() {
  const [host, setHost] = createSignal<string>();
  const [cpu, setCpu] = createSignal<CpuSample>();
  const [mem, setMem] = createSignal<MemorySample>();
  const [gpus, setGpus] = createSignal<GpuSample[]>([]);
  onMount(() => {
    loadConfig().then((c) => setHost(c.host), () => undefined);
    const mine = (h: string) => host() === undefined || h === host();
    const subs = [
      realtime.subscribe('system/cpu', (c) => mine(c.host) && setCpu(c)),
      realtime.subscribe('system/memory', (m) => mine(m.host) && setMem(m)),
      ...Array.from({ length: 8 }, (_, i) =>
        realtime.subscribe(`system/gpu/${i}`, (g) => {
          if (!mine(g.host)) return;
          setGpus((list) => [...list.filter((x) => x.index !== g.index), g].sort((a, b) => a.index - b.index));
        }),
      ),
    ];
    onCleanup(() => subs.forEach((u) => u()));
  });
  return (
    <div class="nav-status">
      <Show when={cpu()}>{(c) => <span title={`CPU of ${c().host}`}>CPU {formatPercent(c().total)}</span>}</Show>
      <Show when={mem()}>{(m) => <span title={`memory of ${m().host}`}>MEM {formatPercent((m().used / Math.max(1, m().total)) * 100)}</span>}</Show>
      <For each={gpus()}>
        {(g) => (
          <span title={g.name}>
            GPU{g.index} {g.util === null ? '–' : formatPercent(g.util)}
            <Show when={g.memUsed !== null && g.memTotal}> · {formatPercent(((g.memUsed ?? 0) / (g.memTotal ?? 1)) * 100)} mem</Show>
          </span>
        )}
      </For>
      <ConnectionIndicator />
    </div>
  );
}
