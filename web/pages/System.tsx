/**
 * System page: CPU, load, memory, disk, network and every GPU of a host, as
 * live charts over a chosen window (history from the API, new points from the
 * WebSocket, polling while it is down), and the live workers with their
 * device setting and the WebGPU adapters each found.
 */
import { useSearchParams } from '@solidjs/router';
import { createMemo, createSignal, For, Show, type JSX } from 'solid-js';
import { SYSTEM_WINDOWS, type SystemWindow } from '../../models/contracts/api.ts';
import { adaptersLine } from '../data/device-view.ts';
import { createSystemStore, type SystemStore } from '../data/system.ts';
import { createWorkersStore } from '../data/workers.ts';
import type { ClientSeries } from '../data/series.ts';
import { TimeSeriesChart, type ChartSeries } from '../ui/TimeSeriesChart.tsx';
import { binaryTicks, byteTicks, formatBytes, formatPercent, formatRate, formatUnit, numberTicks, rateTicks, type TickFormat } from '../ui/format.ts';

function line(store: SystemStore, metric: string, label: string, color?: string): ChartSeries[] {
  const s: ClientSeries | undefined = store.series(metric);
  return s ? [{ label, color, ...s }] : [];
}

/** The newest value of a metric, or undefined. */
function latestOf(store: SystemStore, metric: string): number | undefined {
  const s = store.series(metric);
  return s?.v.length ? s.v[s.v.length - 1] : undefined;
}

/** "memory: 8.1 GiB used of 15.6 GiB" (what is known of it). */
function totalLine(used: number | undefined, total: number | undefined, what: string): string {
  if (total === undefined) return '';
  return `${what}: ${used === undefined ? '' : `${formatBytes(used)} used of `}${formatBytes(total)}`;
}

/** [0, newest value of `metric`] when it has one (a total to scale a "used" chart against). */
function upTo(store: SystemStore, metric: string): [number, number] | undefined {
  const total = latestOf(store, metric);
  return total ? [0, total] : undefined;
}

/** The axis ticks that go with a value format: one unit and one number form for the whole axis. */
function ticksFor(yFormat: (n: number) => string, unit?: string): TickFormat {
  if (yFormat === formatBytes) return byteTicks;
  if (yFormat === formatRate) return rateTicks;
  if (yFormat === formatPercent) return numberTicks('%');
  return numberTicks(unit);
}

/**
 * One chart of the store. Series and y range are thunks, read inside the chart's
 * props, so that new data updates the chart rather than re-creating it.
 */
function storeChart(
  store: SystemStore,
  opts: { title: string; key: string; series: () => ChartSeries[]; yFormat: (n: number) => string; yUnit?: string; yDomain?: () => [number, number] | undefined; height?: number },
): JSX.Element {
  return (
    <TimeSeriesChart
      testKey={opts.key}
      title={opts.title}
      series={opts.series()}
      xDomain={store.range()}
      yFormat={opts.yFormat}
      yTickFormat={ticksFor(opts.yFormat, opts.yUnit)}
      yDomain={opts.yDomain?.()}
      // byte-valued charts (their formatter says so) get ticks on round KiB/MiB/GiB
      yTicks={opts.yFormat === formatBytes || opts.yFormat === formatRate ? binaryTicks : undefined}
      version={store.version()}
      height={opts.height}
    />
  );
}

function GpuPanel(props: { store: SystemStore; index: number; name: string }) {
  const s = props.store;
  const m = (f: string) => `gpu.${props.index}.${f}`;
  const chart = (title: string, key: string, series: () => ChartSeries[], yFormat: (n: number) => string, yDomain?: () => [number, number] | undefined, yUnit?: string) =>
    storeChart(s, { title, key, series, yFormat, yDomain, yUnit, height: 130 });
  return (
    <section class="card gpu-panel" data-testid={`gpu-panel-${props.index}`}>
      <h2>
        GPU {props.index} <span class="muted">{props.name}</span>
      </h2>
      {chart('Utilisation', m('util'), () => line(s, m('util'), 'util'), formatPercent, () => [0, 100])}
      {chart('Memory used', m('mem_used'), () => line(s, m('mem_used'), 'used'), formatBytes, () => upTo(s, m('mem_total')))}
      {chart('Temperature', m('temp'), () => line(s, m('temp'), '°C'), formatUnit('°C'), undefined, '°C')}
      {chart('Power', m('power'), () => line(s, m('power'), 'W'), formatUnit('W'), undefined, 'W')}
      {chart('Clocks', m('sm_clock'), () => [...line(s, m('sm_clock'), 'SM'), ...line(s, m('mem_clock'), 'memory')], formatUnit('MHz'), undefined, 'MHz')}
    </section>
  );
}

export default function System() {
  const [params, setParams] = useSearchParams<{ window?: string; host?: string }>();
  const window = (): SystemWindow => ((SYSTEM_WINDOWS as readonly string[]).includes(params.window ?? '') ? (params.window as SystemWindow) : '15m');
  const store = createSystemStore(window, () => params.host || undefined);
  const [perCore, setPerCore] = createSignal(false);
  const workers = createWorkersStore();

  const chart = (title: string, key: string, series: () => ChartSeries[], yFormat: (n: number) => string, yDomain?: () => [number, number] | undefined) =>
    storeChart(store, { title, key, series, yFormat, yDomain });
  const cores = () => store.metrics('cpu.core.').map((k) => ({ label: `core ${k.slice(9)}`, ...store.series(k)! }));
  // GPU panels keyed by index: a new payload updates a panel instead of re-creating it.
  const gpuIndexes = createMemo(
    () => store.gpus().map((g) => g.index),
    [],
    { equals: (a, b) => a.length === b.length && a.every((x, i) => x === b[i]) },
  );
  const gpuName = (index: number) => {
    const g = store.gpus().find((x) => x.index === index);
    return g?.latest?.name ?? g?.name ?? `GPU ${index}`;
  };

  return (
    <div class="page">
      <header class="page-head">
        <h1>System</h1>
        <span class="muted">{store.host() ?? '…'}</span>
        <div class="spacer" />
        <Show when={store.hosts().length > 1}>
          <label>
            Host{' '}
            <select value={store.host()} onChange={(e) => setParams({ host: e.currentTarget.value })}>
              <For each={store.hosts()}>{(h) => <option value={h}>{h}</option>}</For>
            </select>
          </label>
        </Show>
        <div class="segmented" role="group" aria-label="Time window">
          <For each={SYSTEM_WINDOWS}>
            {(w) => (
              <button type="button" classList={{ active: window() === w }} aria-pressed={window() === w} onClick={() => setParams({ window: w })}>
                {w}
              </button>
            )}
          </For>
        </div>
      </header>

      <Show when={store.error()}>
        {(err) => (
          <div class="error" role="alert">
            <b>Could not load the history:</b> {err().message}{' '}
            <button onClick={() => store.reload()}>Retry</button>
          </div>
        )}
      </Show>

      <div class="grid">
        <section class="card">
          {chart('CPU', 'cpu.total', () => (perCore() ? [...line(store, 'cpu.total', 'total', '#111827'), ...cores()] : line(store, 'cpu.total', 'total')), formatPercent, () => [0, 100])}
          <label class="toggle">
            <input type="checkbox" checked={perCore()} onChange={(e) => setPerCore(e.currentTarget.checked)} /> per core ({store.metrics('cpu.core.').length})
          </label>
        </section>
        <section class="card">
          {chart('Load average', 'load.1', () => [...line(store, 'load.1', '1 min'), ...line(store, 'load.5', '5 min'), ...line(store, 'load.15', '15 min')], formatUnit('', 2))}
        </section>
        <section class="card">
          {chart('Memory used', 'mem.used', () => [...line(store, 'mem.used', 'used'), ...line(store, 'swap.used', 'swap used')], formatBytes, () => upTo(store, 'mem.total'))}
          <p class="chart-note muted" data-testid="memory-total">
            {totalLine(latestOf(store, 'mem.used'), latestOf(store, 'mem.total'), 'memory')}
            <Show when={latestOf(store, 'swap.total')}>{(swap) => ` · swap ${formatBytes(latestOf(store, 'swap.used') ?? 0)} of ${formatBytes(swap())}`}</Show>
          </p>
        </section>
        <section class="card">
          {chart('DATA_DIR size', 'disk.data_dir', () => line(store, 'disk.data_dir', 'DATA_DIR'), formatBytes)}
          <p class="chart-note muted" data-testid="disk-total">
            <Show when={latestOf(store, 'disk.data_dir') === undefined}>DATA_DIR not measured yet (every minute) · </Show>
            {totalLine(latestOf(store, 'disk.used'), latestOf(store, 'disk.total'), 'its file system')}
          </p>
        </section>
        <section class="card">
          {chart('Disk I/O', 'disk.read_bps', () => [...line(store, 'disk.read_bps', 'read'), ...line(store, 'disk.write_bps', 'write')], formatRate)}
        </section>
        <section class="card">
          {chart('Network', 'net.rx_bps', () => [...line(store, 'net.rx_bps', 'received'), ...line(store, 'net.tx_bps', 'sent')], formatRate)}
        </section>
      </div>

      <h2 class="section-title">GPUs</h2>
      <Show when={store.gpus().length > 0} fallback={<p class="muted">No NVIDIA GPU detected on {store.host() ?? 'this host'}.</p>}>
        <div class="gpu-grid">
          <For each={gpuIndexes()}>{(index) => <GpuPanel store={store} index={index} name={gpuName(index)} />}</For>
        </div>
      </Show>

      <h2 class="section-title">Workers</h2>
      <Show when={workers.workers().length > 0} fallback={<p class="muted">{workers.error() ? `Could not load the workers: ${workers.error()}` : 'No worker has beaten in the last 30 s: start one with npm run worker.'}</p>}>
        <ul class="worker-list" data-testid="workers">
          <For each={workers.workers()}>
            {(w) => (
              <li data-testid={`worker-${w.id}`}>
                <b>{w.host}</b> <span class="muted">pid {w.pid} · LOUPE_DEVICE={w.device ?? '?'} · WebGPU:</span> {adaptersLine(w.adapters, w.adaptersNote)}
              </li>
            )}
          </For>
        </ul>
      </Show>
    </div>
  );
}
