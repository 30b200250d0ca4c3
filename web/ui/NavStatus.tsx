/**
 * The nav bar's right side: a compact live status of the server's host (CPU,
 * memory, each GPU's utilisation and memory), the jobs under way, and the
 * connection indicator.
 */
import { A } from '@solidjs/router';
import { createSignal, For, onCleanup, Show } from 'solid-js';
import { createHostStatusStore } from '../data/host-status.ts';
import { createRunningJobsStore } from '../data/jobs.ts';
import { runningJobsText } from '../data/jobs-view.ts';
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

/** The jobs under way, as a button that opens their list (each linked to the page that shows it). */
export function JobsIndicator() {
  const store = createRunningJobsStore();
  const [open, setOpen] = createSignal(false);
  let root: HTMLDivElement | undefined;
  const close = (e: MouseEvent) => root && !root.contains(e.target as Node) && setOpen(false);
  document.addEventListener('click', close);
  onCleanup(() => document.removeEventListener('click', close));
  const text = () => runningJobsText(store.jobs());
  return (
    <div class="jobs-indicator" ref={root} data-testid="jobs-indicator" data-count={store.jobs().length}>
      <button
        type="button"
        class="jobs-button"
        classList={{ busy: store.jobs().some((j) => j.state === 'running') }}
        aria-expanded={open()}
        aria-haspopup="true"
        title={text() || 'no job running'}
        onClick={() => setOpen((o) => !o)}
        data-testid="jobs-button"
      >
        <Show when={store.jobs().some((j) => j.state === 'running')} fallback={<i class="jobs-idle" aria-hidden="true" />}>
          <i class="jobs-spin" aria-hidden="true" />
        </Show>
        <span class="jobs-count">{store.jobs().length}</span>
        <span class="jobs-word">{store.jobs().length === 1 ? 'job' : 'jobs'}</span>
      </button>
      <Show when={open()}>
        <div class="jobs-menu" role="region" aria-label="Jobs under way" data-testid="jobs-menu">
          <Show when={store.jobs().length > 0} fallback={<p class="muted">No job running or queued.</p>}>
            <p class="jobs-summary">{text()}</p>
            <ul>
              <For each={store.jobs().slice(0, 12)}>
                {(j) => (
                  <li data-testid="jobs-item" data-kind={j.kind}>
                    <A href={j.href} onClick={() => setOpen(false)}>
                      {j.label}
                    </A>{' '}
                    <span class={`status status-${j.state === 'running' ? 'running' : 'queued'}`}>{j.state}</span>
                  </li>
                )}
              </For>
            </ul>
            <Show when={store.jobs().length > 12}>
              <p class="muted">and {store.jobs().length - 12} more</p>
            </Show>
          </Show>
        </div>
      </Show>
    </div>
  );
}

export function NavStatus() {
  const status = createHostStatusStore();
  return (
    <div class="nav-status">
      <Show when={status.cpu() !== undefined}>
        <span class="host-figure" title={`CPU of ${status.host() ?? 'the server'}`} data-testid="nav-cpu">
          CPU {formatPercent(status.cpu()!)}
        </span>
      </Show>
      <Show when={status.memory()}>
        {(m) => (
          <span class="host-figure" title={`memory of ${status.host() ?? 'the server'}`} data-testid="nav-mem">
            MEM {formatPercent((m().used / Math.max(1, m().total)) * 100)}
          </span>
        )}
      </Show>
      <For each={status.gpus()}>
        {(g) => (
          <span class="host-figure gpu-figure" title={g.name}>
            GPU{g.index} {g.util === null ? '–' : formatPercent(g.util)}
            <Show when={g.memUsed !== null && g.memTotal}> · {formatPercent(((g.memUsed ?? 0) / (g.memTotal ?? 1)) * 100)} mem</Show>
          </span>
        )}
      </For>
      <JobsIndicator />
      <ConnectionIndicator />
    </div>
  );
}
