import { createMemo, For, Show } from 'solid-js';
import type { CompareRun } from '../../../models/contracts/compare.ts';
import { bestRuns, finalMetrics, nextSort, runStateLabel, sortRuns, type CompareSort } from '../../data/compare-view.ts';
import { formatMetric, metricTip } from '../../data/metric-view.ts';
import { RunName, type RunStyle } from './RunName.tsx';

/**
 * The runs' final metrics: a column per metric some run recorded (primary
 * first), each header's tooltip the registry's definition, the best of each
 * column in bold with a ★, sorted by a click on a header.
 */
export function FinalTable(props: { runs: CompareRun[]; style: RunStyle; sort: CompareSort | null; onSort: (s: CompareSort) => void }) {
  const metrics = createMemo(() => finalMetrics(props.runs));
  const best = createMemo(() => bestRuns(props.runs, metrics().map((m) => m.key)));
  const labels = createMemo(() => new Map(props.runs.map((r) => [r.key, props.style.label(r.key)])));
  const rows = createMemo(() => sortRuns(props.runs, props.sort, labels()));
  const ariaSort = (key: CompareSort['key']) => (props.sort?.key === key ? (props.sort.desc ? 'descending' : 'ascending') : undefined);
  const arrow = (key: CompareSort['key']) => (props.sort?.key === key ? (props.sort.desc ? ' ↓' : ' ↑') : '');
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label="final metrics of each run">
      <table class="compare-table final-table" data-testid="final-table">
        <thead>
          <tr>
            <th scope="col" aria-sort={ariaSort('name')}>
              <button type="button" class="sort-button" onClick={() => props.onSort(nextSort(props.sort, 'name'))} data-testid="sort-name">
                run{arrow('name')}
              </button>
            </th>
            <For each={metrics()}>
              {(m) => (
                <th scope="col" class="num" title={metricTip(m.key)} aria-sort={ariaSort(m.key)} data-tier={m.tier}>
                  <button type="button" class="sort-button" onClick={() => props.onSort(nextSort(props.sort, m.key))} data-testid={`sort-${m.key}`}>
                    {m.name}
                    {arrow(m.key)}
                  </button>
                </th>
              )}
            </For>
          </tr>
        </thead>
        <tbody>
          <For each={rows()}>
            {(r) => (
              <tr data-testid="final-row" data-key={r.key}>
                <th scope="row">
                  <RunName run={r} style={props.style} />
                  <Show when={r.status !== 'completed'}>
                    <span class="muted run-state"> {runStateLabel(r)}</span>
                  </Show>
                </th>
                <For each={metrics()}>
                  {(m) => {
                    const v = () => r.final[m.key];
                    const isBest = () => best().get(m.key)?.has(r.key) ?? false;
                    return (
                      <td class="num" classList={{ best: isBest() }} data-testid={`final-${m.key}`} data-value={v() ?? ''} data-best={isBest() ? 'true' : undefined}>
                        <Show when={isBest()} fallback={formatMetric(m.key, v())}>
                          <b>{formatMetric(m.key, v())}</b>{' '}
                          <span class="best-mark" role="img" aria-label={`best ${m.name}`} title={`the best ${m.name} of these runs (${m.better} is better)`}>
                            ★
                          </span>
                        </Show>
                      </td>
                    );
                  }}
                </For>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  );
}
