import { createEffect, createSignal, For, Match, on, onCleanup, Show, Switch } from 'solid-js';
import type { Dataset, DatasetSample } from '../../../models/contracts/datasets.ts';
import { errorMessage } from '../../api.ts';
import { formatInt } from '../../data/dataset-view.ts';
import { loadSample } from '../../data/datasets.ts';
import { TokenText } from '../../ui/TokenText.tsx';

/** Documents per page of the sample browser. */
const SAMPLE_PAGE = 10;

/** The first and last document of a page, 1-based, for "documents 11–20 of 1,272". */
function pageRange(page: DatasetSample): string {
  if (page.documents.length === 0) return `none of ${formatInt(page.total)}`;
  return `${formatInt(page.offset + 1)}–${formatInt(page.offset + page.documents.length)} of ${formatInt(page.total)}`;
}

/** A page of documents at a time, each shown token by token. */
export function SampleBrowser(props: { dataset: Dataset; specialIds: Set<number> }) {
  const [offset, setOffset] = createSignal(0);
  const [state, setState] = createSignal<{ kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ok'; page: DatasetSample }>({ kind: 'loading' });
  createEffect(
    on(offset, (o) => {
      const ac = new AbortController();
      onCleanup(() => ac.abort());
      loadSample(props.dataset.id, o, SAMPLE_PAGE, ac.signal).then(
        (page) => setState({ kind: 'ok', page }),
        (err) => !ac.signal.aborted && setState({ kind: 'error', message: errorMessage(err) }),
      );
    }),
  );
  const total = () => props.dataset.stats?.documents ?? 0;
  return (
    <section class="sample-browser" data-testid="sample-browser">
      <div class="sample-nav">
        <h3>Documents</h3>
        <button type="button" disabled={offset() === 0} onClick={() => setOffset(Math.max(0, offset() - SAMPLE_PAGE))} data-testid="sample-prev">
          ← Previous
        </button>
        <button type="button" disabled={offset() + SAMPLE_PAGE >= total()} onClick={() => setOffset(offset() + SAMPLE_PAGE)} data-testid="sample-next">
          Next →
        </button>
        <Show when={(() => { const s = state(); return s.kind === 'ok' ? s.page : undefined; })()}>
          {(page) => (
            <span class="muted" data-testid="sample-range">
              documents {pageRange(page())}
            </span>
          )}
        </Show>
        <span class="muted hint-inline">Token boundaries alternate in colour; · is a space, ↵ a line break; hover a token for its id.</span>
      </div>
      <Switch>
        <Match when={state().kind === 'loading'}>
          <p class="muted">Loading documents…</p>
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'error' ? s : undefined; })()}>
          {(s) => (
            <p class="error" role="alert">
              Could not load the documents: {s().message}
            </p>
          )}
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'ok' ? s.page : undefined; })()}>
          {(page) => (
            <ol class="sample-docs">
              <For each={page().documents}>
                {(doc) => (
                  <li class="sample-doc" data-testid={`sample-doc-${doc.index}`}>
                    <div class="sample-doc-head muted">
                      #{doc.index} · {formatInt(doc.length)} tokens{doc.truncated ? ` (first ${formatInt(doc.ids.length)} shown)` : ''}
                    </div>
                    <TokenText ids={doc.ids} strings={doc.strings} special={(id) => props.specialIds.has(id)} />
                  </li>
                )}
              </For>
            </ol>
          )}
        </Match>
      </Switch>
    </section>
  );
}
