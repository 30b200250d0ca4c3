import { A, useNavigate } from '@solidjs/router';
import { createSignal, For, Show } from 'solid-js';
import type { FeatureListItem } from '../../../models/contracts/features.ts';
import { errorMessage } from '../../api.ts';
import { formatInt } from '../../data/dataset-view.ts';
import { featureHref, nextSort, pageCount, sortMark, type FeatureListQuery } from '../../data/feature-query.ts';
import { featureCountText, formatFrequency, formatScore, formatValue, labelSourceText, quoteToken } from '../../data/feature-view.ts';
import { patchFeature, type FeatureListStore } from '../../data/features.ts';
import { TokenChip } from '../../ui/TokenChip.tsx';

type Column = 'index' | 'score' | 'frequency' | 'max';

/** The page of features: sortable columns, a favourite star per row, the peak tokens as filters, and the pager. */
export function FeatureTable(props: { store: FeatureListStore; query: FeatureListQuery; set: (patch: Partial<FeatureListQuery>, opts?: { keepPage?: boolean }) => void }) {
  const navigate = useNavigate();
  const [starError, setStarError] = createSignal<string>();
  const items = () => props.store.data()?.items ?? [];
  const total = () => props.store.data()?.total ?? 0;
  const pages = () => pageCount(total(), props.query.limit);
  const first = () => (total() === 0 ? 0 : (props.query.page - 1) * props.query.limit + 1);
  const last = () => Math.min(total(), props.query.page * props.query.limit);

  const star = async (f: FeatureListItem) => {
    setStarError(undefined);
    props.store.update({ ...f, favourite: !f.favourite });
    try {
      const after = await patchFeature(f.id, { favourite: !f.favourite });
      if (after) props.store.update(after);
      if (props.query.favourite) props.store.reload();
    } catch (err) {
      props.store.update(f);
      setStarError(errorMessage(err));
    }
  };
  const Head = (p: { col: Column; label: string; title?: string; num?: boolean }) => (
    <th class={p.num ? 'num' : undefined} title={p.title} aria-sort={sortMark(props.query.sort, p.col) === '↓' ? 'descending' : sortMark(props.query.sort, p.col) === '↑' ? 'ascending' : undefined}>
      <button type="button" class="sort-button" onClick={() => props.set({ sort: nextSort(props.query.sort, p.col) }, { keepPage: false })} data-testid={`sort-${p.col}`}>
        {p.label} <span class="sort-mark">{sortMark(props.query.sort, p.col)}</span>
      </button>
    </th>
  );
  const open = (f: FeatureListItem) => navigate(featureHref(f.saeId, f.index, props.query));

  return (
    <section class="card feature-table-card">
      <Show when={props.store.error()}>
        {(err) => (
          <div class="error" role="alert" data-testid="features-error">
            <b>Could not load the features:</b> {err().message} <button onClick={() => props.store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <Show when={starError()}>
        <p class="field-error" role="alert">
          {starError()}
        </p>
      </Show>
      <div class="table-head">
        <span class="muted" data-testid="feature-count">
          <Show when={props.store.data()} fallback={props.store.loading() ? 'Loading…' : ''}>
            {featureCountText(first(), last(), total())}
          </Show>
        </span>
        <Show when={props.store.loading()}>
          <span class="spinner" aria-label="loading" />
        </Show>
      </div>
      {/* a region the keyboard reaches: the table scrolls sideways on a narrow screen */}
      <div class="table-scroll" tabIndex={0} role="region" aria-label="features">
        <table class="feature-table" classList={{ stale: props.store.loading() }} data-testid="feature-table">
          <thead>
            <tr>
              <th class="star-col" title="favourite">★</th>
              <Head col="index" label="#" num />
              <th>label</th>
              <th>peak tokens</th>
              <Head col="score" label="score" num title="share of the top examples that agree with the label's token" />
              <Head col="frequency" label="frequency" num title="share of tokens on which the feature is active" />
              <Head col="max" label="max" num title="strongest activation" />
            </tr>
          </thead>
          <tbody>
            <For each={items()}>
              {(f) => (
                <tr data-testid="feature-row" data-index={f.index} onClick={(e) => !(e.target as HTMLElement).closest('button, a') && open(f)}>
                  <td class="star-col">
                    <button type="button" class="star" classList={{ on: f.favourite }} aria-pressed={f.favourite} title={f.favourite ? 'remove from favourites' : 'add to favourites'} onClick={() => void star(f)} data-testid="row-star">
                      {f.favourite ? '★' : '☆'}
                    </button>
                  </td>
                  <td class="num index-col">
                    <A href={featureHref(f.saeId, f.index, props.query)} data-testid="feature-link">
                      {f.index}
                    </A>
                  </td>
                  <td class="label-col">
                    <span class="feature-label" data-testid="row-label">
                      {f.label ?? '—'}
                    </span>
                    <Show when={f.labelSource && f.labelSource !== 'heuristic'}>
                      <span class={`badge source-${f.labelSource}`}>{labelSourceText(f.labelSource)}</span>
                    </Show>
                    <Show when={f.hasNotes}>
                      <span class="muted notes-mark" title="has notes">
                        ✎
                      </span>
                    </Show>
                  </td>
                  <td class="tokens-col">
                    <For each={f.topTokens}>{(t) => <TokenChip text={t.text} count={t.count} onClick={() => props.set({ token: t.text })} title={`show features peaking on ${quoteToken(t.text)}`} />}</For>
                  </td>
                  <td class="num" data-testid="row-score">
                    {formatScore(f.score)}
                  </td>
                  <td class="num" data-testid="row-frequency">
                    {formatFrequency(f.frequency)}
                  </td>
                  <td class="num">{formatValue(f.maxActivation)}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <Show when={pages() > 1}>
        <nav class="pager" data-testid="pager">
          <button type="button" disabled={props.query.page <= 1} onClick={() => props.set({ page: 1 }, { keepPage: true })}>
            «
          </button>
          <button type="button" disabled={props.query.page <= 1} onClick={() => props.set({ page: props.query.page - 1 }, { keepPage: true })} data-testid="page-prev">
            ‹ Previous
          </button>
          <span data-testid="page-text">
            page {props.query.page} of {formatInt(pages())}
          </span>
          <button type="button" disabled={props.query.page >= pages()} onClick={() => props.set({ page: props.query.page + 1 }, { keepPage: true })} data-testid="page-next">
            Next ›
          </button>
          <button type="button" disabled={props.query.page >= pages()} onClick={() => props.set({ page: pages() }, { keepPage: true })}>
            »
          </button>
        </nav>
      </Show>
    </section>
  );
}
