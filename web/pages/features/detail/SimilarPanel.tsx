/**
 * The features whose decoder directions are most like this one's (cosine of
 * W_dec rows), searched in this browser: the SAE's decoder is downloaded once
 * (kept by checksum in the browser's cache) and uploaded once a page to
 * WebGPU, or searched on the CPU when there is none, the panel says which.
 * `?search=cpu` in the page's address uses the CPU fallback.
 */
import { A, useSearchParams } from '@solidjs/router';
import { createEffect, createSignal, For, on, onCleanup, Show } from 'solid-js';
import type { Scored } from '../../../../models/sae/gpu/search.ts';
import { errorMessage } from '../../../api.ts';
import { formatValue } from '../../../data/feature-view.ts';
import { formatBytes, formatMs } from '../../../data/inspector-view.ts';
import { loadManifest, searches, timed } from '../../../data/inspector.ts';
import { loadDecoder, type SearchEngine } from '../../../engine/decoder.ts';
import type { FileProgress } from '../../../engine/files.ts';

export function SimilarPanel(props: { saeId: string; index: number }) {
  const [search] = useSearchParams<{ search?: string; precision?: string }>();
  const [rows, setRows] = createSignal<Scored[]>();
  const [ms, setMs] = createSignal<number>();
  const [engine, setEngine] = createSignal<SearchEngine>();
  const [status, setStatus] = createSignal<string>('Loading the decoder…');
  const [error, setError] = createSignal<string>();
  createEffect(
    on([() => props.saeId, () => props.index], ([saeId, index]) => {
      const ac = new AbortController();
      onCleanup(() => ac.abort());
      setError(undefined);
      void (async () => {
        try {
          const manifest = await loadManifest(saeId, ac.signal, () => setStatus('The server is preparing the decoder (once per SAE)…'));
          const precision = search.precision === 'f16' || search.precision === 'f32' ? search.precision : 'auto';
          const d = await loadDecoder(saeId, manifest, {
            engine: search.search === 'cpu' ? 'cpu' : 'auto',
            precision,
            onProgress: (p: FileProgress) => setStatus(p.cached ? 'Decoder from the browser\'s cache…' : `Downloading the decoder: ${formatBytes(p.loaded)} of ${formatBytes(p.total)}`),
          });
          if (ac.signal.aborted) return;
          setEngine(d.engine);
          const r = await timed(() => searches.similar(d, index));
          if (ac.signal.aborted) return;
          setRows(r.value);
          setMs(r.ms);
        } catch (err) {
          if (!ac.signal.aborted) setError(errorMessage(err));
        }
      })();
    }),
  );
  return (
    <section class="card" data-testid="similar-features">
      <div class="chart-head">
        <h3 class="card-title">Similar features</h3>
        <Show when={ms() !== undefined}>
          <span class="muted small" data-testid="search-ms">
            {formatMs(ms()!)}
          </span>
        </Show>
      </div>
      <p class="muted small explain" data-testid="search-engine" data-engine={engine()?.kind}>
        Cosine similarity of decoder directions, searched in this browser
        <Show when={engine()}>{(e) => <> on {e().kind === 'webgpu' ? `WebGPU (${(e() as { adapter: string }).adapter})` : 'the CPU'}</>}</Show>
        <Show when={engine()?.kind === 'cpu' && (engine() as { reason: string | null }).reason}>{(r) => <span class="warn-note"> — not WebGPU: {r()}</span>}</Show>.
      </p>
      <Show when={error()}>{(e) => <div class="error">The search failed: {e()}</div>}</Show>
      <Show when={rows()} fallback={<Show when={!error()}><p class="muted loading-line"><span class="spinner" /> {status()}</p></Show>}>
        {(r) => (
          <ol class="scored-list" data-testid="similar-list">
            <For each={r()}>
              {(x) => (
                <li data-testid="search-row" data-index={x.index} data-value={x.value}>
                  <A href={`/features/${props.saeId}/${x.index}`}>#{x.index}</A> <span class="muted">{formatValue(x.value)}</span>
                </li>
              )}
            </For>
          </ol>
        )}
      </Show>
    </section>
  );
}
