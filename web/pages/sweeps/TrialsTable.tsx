import { createMemo, For, Show } from 'solid-js';
import { METRICS, metricDef, type MetricKey } from '../../../models/contracts/metrics.ts';
import type { SweepDetail, SweepTrial } from '../../../models/contracts/sweeps.ts';
import { formatMetric, metricTip } from '../../data/metric-view.ts';
import { formatParam, nextTrialSort, sortTrials, trainingHref, type TrialSort, type TrialSortKey } from '../../data/sweep-view.ts';
import { formatInt } from '../../data/training-view.ts';

/** The registry's primary metrics: the columns after the objective. */
const PRIMARY = METRICS.filter((m) => m.tier === 'primary').map((m) => m.key);

/**
 * The trials: number (the best starred), each param, status (with why a
 * trial was pruned, failed or was cancelled), the objective (a running
 * trial's latest value), the other primary metrics, its training (steps
 * while it runs) and what it can become. Sorted by a click on a header; rows
 * keep their identity across updates (the store reconciles trials by
 * number), so a hover and the order survive every live update. A row
 * hovered lights its line in the charts.
 */
export function TrialsTable(props: {
  sweep: SweepDetail;
  sort: TrialSort;
  onSort: (s: TrialSort) => void;
  hovered: number | undefined;
  onHover: (n: number | undefined) => void;
  onAction: (kind: 'template' | 'train', trial: SweepTrial) => void;
}) {
  const keys = createMemo(() => Object.keys(props.sweep.spec.space));
  const metric = () => props.sweep.spec.objective.metric;
  const others = createMemo(() => PRIMARY.filter((k) => k !== metric()));
  const rows = createMemo(() => sortTrials(props.sweep.trials, props.sort));
  const ariaSort = (key: TrialSortKey) => (props.sort.key === key ? (props.sort.desc ? 'descending' : 'ascending') : undefined);
  const arrow = (key: TrialSortKey) => (props.sort.key === key ? (props.sort.desc ? ' ↓' : ' ↑') : '');
  const SortHead = (p: { key: TrialSortKey; label: string; title?: string; num?: boolean; testId: string }) => (
    <th scope="col" class={p.num ? 'num' : undefined} title={p.title} aria-sort={ariaSort(p.key)}>
      <button type="button" class="sort-button" onClick={() => props.onSort(nextTrialSort(props.sort, p.key))} data-testid={p.testId}>
        {p.label}
        {arrow(p.key)}
      </button>
    </th>
  );
  const objectiveTitle = () => `${metricTip(metric())}. Sorted by the objective's score: ↓ best first, trials that break a constraint after those that keep them.`;

  return (
    <div class="sweep-table-scroll" tabIndex={0} role="region" aria-label="trials of the sweep">
      <table class="sweep-table" data-testid="trials-table">
        <thead>
          <tr>
            <SortHead key="number" label="#" testId="sort-number" />
            <For each={keys()}>{(k) => <SortHead key={`param:${k}`} label={k} num testId={`sort-param-${k}`} />}</For>
            <SortHead key="status" label="status" testId="sort-status" />
            <SortHead key="objective" label={`${metricDef(metric()).name} (objective)`} title={objectiveTitle()} num testId="sort-objective" />
            <For each={others()}>{(k) => <SortHead key={k} label={metricDef(k).name} title={metricTip(k)} num testId={`sort-${k}`} />}</For>
            <th scope="col">training</th>
            <th scope="col">
              <span class="visually-hidden-sweep">actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          <For each={rows()}>
            {(t) => (
              <tr
                data-testid="trial-row"
                data-number={t.number}
                data-status={t.status}
                data-best={t.best ? 'true' : undefined}
                classList={{ best: t.best, hovered: props.hovered === t.number }}
                onMouseEnter={() => props.onHover(t.number)}
                onMouseLeave={() => props.onHover(undefined)}
              >
                <th scope="row" class="trial-number">
                  #{t.number}
                  <Show when={t.best}>
                    {' '}
                    <span class="best-star" role="img" aria-label="the best trial" title="the best trial: the highest score among the completed trials that keep the constraints" data-testid="best-mark">
                      ★
                    </span>
                  </Show>
                </th>
                <For each={keys()}>
                  {(k) => (
                    <td class="num" data-testid={`param-${k}`} data-value={String(t.params[k] ?? '')}>
                      {formatParam(t.params[k])}
                    </td>
                  )}
                </For>
                <td class="trial-status">
                  <span class={`status status-${t.status}`} data-testid="trial-status">
                    {t.status}
                  </span>
                  <Show when={t.reason}>
                    <span class="muted trial-reason" data-testid="trial-reason">
                      {t.reason}
                    </span>
                  </Show>
                </td>
                <td class="num" data-testid="trial-objective" data-value={t.objective ?? ''}>
                  {formatMetric(metric(), t.objective)}
                  <Show when={t.status === 'running' && t.objective !== null}>
                    <span class="muted"> latest</span>
                  </Show>
                  <Show when={t.feasible === false}>
                    {' '}
                    <span class="infeasible" title="breaks a constraint of the objective" role="img" aria-label="breaks a constraint">
                      ✕
                    </span>
                  </Show>
                </td>
                <For each={others()}>
                  {(k: MetricKey) => (
                    <td class="num" data-testid={`trial-${k}`}>
                      {formatMetric(k, t.final[k])}
                    </td>
                  )}
                </For>
                <td class="trial-training">
                  <Show when={t.trainingId} fallback={<span class="muted">none</span>}>
                    <a href={trainingHref(t.trainingId!)} data-testid="trial-training">
                      run
                    </a>
                    <Show when={t.status === 'running' && t.training}>
                      <span class="muted">
                        {' '}
                        {t.training!.status === 'running' ? `step ${formatInt(t.training!.step)} / ${formatInt(t.training!.totalSteps)}` : t.training!.status}
                      </span>
                    </Show>
                  </Show>
                </td>
                <td class="trial-actions">
                  <span>
                    <button type="button" onClick={() => props.onAction('template', t)} aria-label={`trial ${t.number} to a new training template`} data-testid="trial-to-template">
                      → template
                    </button>
                    <button type="button" onClick={() => props.onAction('train', t)} aria-label={`train trial ${t.number} at full length`} data-testid="trial-to-train">
                      → train
                    </button>
                  </span>
                </td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  );
}
