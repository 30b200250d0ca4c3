/**
 * Where the inspector stands and where it runs: the manifest being built,
 * each file's download (bytes of the total, or from the browser's cache),
 * the backend that runs the model (the WebGPU adapter, or WASM and why), the
 * last run's latency (tokenize, forward, encode) and the searches' engine.
 */
import { For, Show } from 'solid-js';
import type { InspectorFile } from '../../../models/contracts/inspector.ts';
import type { InspectorStore } from '../../data/inspector.ts';
import { formatBytes, formatMs } from '../../data/inspector-view.ts';
import type { SearchEngine } from '../../engine/decoder.ts';
import { ProgressBar } from '../../ui/ProgressBar.tsx';

const PHASES = { manifest: 'Asking the server for the SAE\'s files…', building: 'The server is building the files for the browser (once per SAE)…', downloading: 'Downloading…', starting: 'Starting the model…', ready: '', error: '' } as const;

export function EngineCard(props: { store: InspectorStore; search: SearchEngine | undefined }) {
  const s = props.store;
  const files = () => Object.entries(s.progress()) as [InspectorFile, { loaded: number; total: number; cached: boolean }][];
  return (
    <section class="card engine-card" data-testid="engine-card">
      <Show when={PHASES[s.phase()]}>
        <p class="loading-line" data-testid="inspector-phase">
          <span class="spinner" /> {PHASES[s.phase()]}
        </p>
      </Show>
      <Show when={files().length > 0 && files().some(([, p]) => p.loaded < p.total)}>
        <ul class="file-progress" data-testid="file-progress">
          <For each={files()}>
            {([name, p]) => (
              <li data-file={name} data-cached={p.cached ? 'true' : undefined}>
                <code>{name}</code>
                <ProgressBar value={p.total ? (100 * p.loaded) / p.total : 100} label={name} />
                <span class="muted small">{p.cached ? `${formatBytes(p.total)} from the browser's cache` : `${formatBytes(p.loaded)} of ${formatBytes(p.total)}`}</span>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={files().length > 0 && files().every(([, p]) => p.loaded === p.total)}>
        <p class="muted file-summary" data-testid="files-summary">
          Files:{' '}
          {files()
            .map(([name, p]) => `${name} ${formatBytes(p.total)}${p.cached ? ' (cached)' : ''}`)
            .join(' · ')}
        </p>
      </Show>
      <Show when={s.model()}>
        {(m) => (
          <p class="backend" data-testid="backend" data-backend={m().backend.kind}>
            <b>Model:</b>{' '}
            <Show when={m().backend.kind === 'webgpu' ? (m().backend as { adapter: string; fallbackAdapter: boolean }) : undefined} fallback={<>WASM (onnxruntime-web, CPU)</>}>
              {(b) => (
                <>
                  WebGPU · {b().adapter}
                  <Show when={b().fallbackAdapter}> (a software adapter: results count, its speed does not)</Show>
                </>
              )}
            </Show>
            <Show when={m().backend.kind === 'wasm' && (m().backend as { reason: string | null }).reason}>
              {(reason) => (
                <span class="warn-note" data-testid="backend-reason">
                  {' '}
                  — not WebGPU: {reason()}
                </span>
              )}
            </Show>
          </p>
        )}
      </Show>
      <Show when={props.search}>
        {(e) => (
          <p class="backend" data-testid="search-engine" data-engine={e().kind}>
            <b>Searches:</b> {e().kind === 'webgpu' ? `WebGPU · ${(e() as { adapter: string }).adapter}` : 'CPU'}
            <Show when={e().kind === 'cpu' && (e() as { reason: string | null }).reason}>{(r) => <span class="warn-note"> — not WebGPU: {r()}</span>}</Show>
          </p>
        )}
      </Show>
      <Show when={s.result()}>
        {(r) => (
          <p class="latency" data-testid="latency" data-tokens={r().ids.length} data-at={r().at}>
            <b>Last run</b> ({r().ids.length} tokens): tokenize <span data-testid="ms-tokenize" data-ms={r().timings.tokenizeMs}>{formatMs(r().timings.tokenizeMs)}</span> · forward{' '}
            <span data-testid="ms-forward" data-ms={r().timings.forwardMs}>{formatMs(r().timings.forwardMs)}</span> · encode <span data-testid="ms-encode" data-ms={r().timings.encodeMs}>{formatMs(r().timings.encodeMs)}</span>
            <Show when={s.running()}>
              {' '}
              <span class="spinner" />
            </Show>
          </p>
        )}
      </Show>
      <Show when={s.error()}>
        {(e) => (
          <div class="error" role="alert" data-testid="inspector-error">
            {e()}
          </div>
        )}
      </Show>
      <Show when={s.runError()}>
        {(e) => (
          <div class="error" role="alert" data-testid="run-error">
            The run failed: {e()}
          </div>
        )}
      </Show>
    </section>
  );
}
