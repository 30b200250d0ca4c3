import { createSignal, For, Match, onCleanup, Switch } from 'solid-js';
import type { Dataset, DatasetStatsBody } from '../../../models/contracts/datasets.ts';
import { errorMessage } from '../../api.ts';
import { formatInt, lengthBars, visibleToken } from '../../data/dataset-view.ts';
import { loadStats } from '../../data/datasets.ts';
import { LengthHistogram } from '../../ui/LengthHistogram.tsx';
import { SampleBrowser } from './SampleBrowser.tsx';

/** Statistics, length histogram, top tokens and the sample browser of an imported dataset. */
export function DatasetDetails(props: { dataset: Dataset }) {
  const [state, setState] = createSignal<{ kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ok'; stats: DatasetStatsBody }>({ kind: 'loading' });
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  loadStats(props.dataset.id, ac.signal).then(
    (stats) => setState({ kind: 'ok', stats }),
    (err) => !ac.signal.aborted && setState({ kind: 'error', message: errorMessage(err) }),
  );
  return (
    <section class="dataset-details" data-testid="dataset-details">
      <Switch>
        <Match when={state().kind === 'loading'}>
          <p class="muted">Loading the statistics…</p>
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'error' ? s : undefined; })()}>
          {(s) => (
            <p class="error" role="alert">
              Could not load the statistics: {s().message}
            </p>
          )}
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'ok' ? s.stats : undefined; })()}>
          {(stats) => {
            const s = stats();
            const facts: [string, string][] = [
              ['documents', formatInt(s.documents)],
              ['tokens', formatInt(s.tokens)],
              ['unique tokens', `${formatInt(s.uniqueTokens)} of ${formatInt(s.vocabSize)} (${((100 * s.uniqueTokens) / Math.max(1, s.vocabSize)).toFixed(1)} %)`],
              ['length mean', s.length.mean.toFixed(1)],
              ['median', formatInt(s.length.median)],
              ['p10 / p90 / p99', `${formatInt(s.length.p10)} / ${formatInt(s.length.p90)} / ${formatInt(s.length.p99)}`],
              ['min / max', `${formatInt(s.length.min)} / ${formatInt(s.length.max)}`],
              ...(s.skippedRows ? [['skipped rows', formatInt(s.skippedRows)] as [string, string]] : []),
              ...(s.emptyDocuments ? [['empty documents', formatInt(s.emptyDocuments)] as [string, string]] : []),
              ...(s.truncated ? [['truncated', 'yes: stopped at the document or token limit'] as [string, string]] : []),
            ];
            const specialIds = new Set(s.topTokens.filter((t) => t.special).map((t) => t.id));
            return (
              <>
                <dl class="dataset-stats" data-testid="dataset-stats">
                  <For each={facts}>
                    {([k, v]) => (
                      <div>
                        <dt>{k}</dt>
                        <dd data-testid={`stat-${k.replace(/[^a-z0-9]+/g, '-')}`}>{v}</dd>
                      </div>
                    )}
                  </For>
                </dl>
                <div class="dataset-charts">
                  <div class="histogram-panel">
                    <h3>Document lengths</h3>
                    <LengthHistogram bars={lengthBars(s.histogram)} />
                  </div>
                  <div class="top-tokens-panel">
                    <h3>Most frequent tokens</h3>
                    <div class="top-tokens-scroll">
                      <table class="top-tokens" data-testid="top-tokens">
                        <thead>
                          <tr>
                            <th>#</th>
                            <th>token</th>
                            <th>id</th>
                            <th>count</th>
                            <th>share</th>
                          </tr>
                        </thead>
                        <tbody>
                          <For each={s.topTokens}>
                            {(t, i) => (
                              <tr>
                                <td class="muted">{i() + 1}</td>
                                <td>
                                  <code class={`tok ${t.special ? 'tok-special' : 'tok-a'}`}>{visibleToken(t.text)}</code>
                                </td>
                                <td class="num">{t.id}</td>
                                <td class="num">{formatInt(t.count)}</td>
                                <td class="num">{(100 * t.fraction).toFixed(2)} %</td>
                              </tr>
                            )}
                          </For>
                        </tbody>
                      </table>
                    </div>
                  </div>
                </div>
                <SampleBrowser dataset={props.dataset} specialIds={specialIds} />
              </>
            );
          }}
        </Match>
      </Switch>
    </section>
  );
}
