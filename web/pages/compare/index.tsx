/**
 * Compare page: trainings side by side (`GET /api/trainings/compare`; a
 * training of several hook points is a run per hook). The settings that
 * differ (the equal ones folded away), overlaid curves of the main metrics
 * (a colour per run, the same everywhere; x in steps or tokens, log y, EMA
 * smoothing), the final metrics (sortable, the best of each column starred)
 * and the frontier of L0 against explained variance or CE-loss recovered,
 * its Pareto front drawn; a run opens its training. The whole view lives in
 * the URL, so a link shares the comparison and a reload keeps it. Without
 * trainings in the address, the recent ones are listed to tick.
 */
import { useNavigate, useSearchParams } from '@solidjs/router';
import { createMemo, createSignal, For, Show } from 'solid-js';
import { metricDef } from '../../../models/contracts/metrics.ts';
import { compareSearchParams, FRONTIER_Y, MAX_SMOOTH, parseCompareView, runLabels, type CompareView, type FrontierY } from '../../data/compare-view.ts';
import { createCompareStore } from '../../data/compare.ts';
import { formatMetric, metricTicks, metricTitle } from '../../data/metric-view.ts';
import { PALETTE } from '../../ui/chart.ts';
import { FrontierChart, type FrontierDot } from '../../ui/FrontierChart.tsx';
import { ConfigDiff } from './ConfigDiff.tsx';
import { CurveCharts } from './CurveCharts.tsx';
import { FinalTable } from './FinalTable.tsx';
import { RunPicker } from './RunPicker.tsx';
import { trainingHref, type RunStyle } from './RunName.tsx';
import './Compare.css';

export default function ComparePage() {
  const [params, setParams] = useSearchParams();
  const view = createMemo(() => parseCompareView({ ...params }), undefined, { equals: (a, b) => JSON.stringify(a) === JSON.stringify(b) });
  /** a new view in the URL: a history entry for other runs, the same entry for an option (a slider moves many times) */
  const set = (patch: Partial<CompareView>) => setParams(compareSearchParams({ ...view(), ...patch }), { replace: patch.ids === undefined });
  const navigate = useNavigate();
  const [pickerOpen, setPickerOpen] = createSignal(false);

  const store = createCompareStore(createMemo(() => ({ ids: view().ids, x: view().x }), undefined, { equals: (a, b) => a.x === b.x && a.ids.join() === b.ids.join() }));
  const data = store.data;
  const style = createMemo<RunStyle>(() => {
    const runs = data()?.runs ?? [];
    const labels = runLabels(runs);
    const colors = new Map(runs.map((r, i) => [r.key, PALETTE[i % PALETTE.length]!]));
    return { label: (k) => labels.get(k) ?? k, color: (k) => colors.get(k) ?? '#6b7280' };
  });
  const frontierDots = createMemo<FrontierDot[]>(() =>
    (data()?.runs ?? []).flatMap((r) => {
      const x = r.final.l0;
      const y = r.final[view().frontier];
      return x != null && y != null && Number.isFinite(x) && Number.isFinite(y) ? [{ key: r.key, x, y, label: style().label(r.key), color: style().color(r.key) }] : [];
    }),
  );
  const openRun = (key: string) => {
    const run = data()?.runs.find((r) => r.key === key);
    if (run) navigate(trainingHref(run));
  };

  return (
    <div class="page compare-page">
      <header class="page-head">
        <h1>Compare</h1>
        <span class="muted" data-testid="compare-count">
          {data() ? `${data()!.runs.length} ${data()!.runs.length === 1 ? 'run' : 'runs'}` : ''}
        </span>
        <Show when={store.loading() && data()}>
          <span class="muted" data-testid="compare-refreshing">
            updating…
          </span>
        </Show>
      </header>

      <Show
        when={view().ids.length > 0}
        fallback={
          <>
            <p class="hint compare-hint" data-testid="compare-hint">
              Tick two trainings or more to compare their settings, curves and final metrics (a training of several hook points is compared hook by hook).
            </p>
            <RunPicker selected={[]} onCompare={(ids) => set({ ids })} />
          </>
        }
      >
        <Show when={view().ids.length === 1}>
          <p class="hint compare-hint" data-testid="compare-hint">
            One training in this comparison: tick another below to compare it with.
          </p>
        </Show>
        {/* the runs of the comparison, to change; the list is loaded when opened */}
        <details class="picker-details" open={view().ids.length === 1} onToggle={(e) => setPickerOpen(e.currentTarget.open)} data-testid="change-runs">
          <summary>Change the runs compared</summary>
          <Show when={(pickerOpen() || view().ids.length === 1) && view().ids.join()} keyed>
            <RunPicker selected={view().ids} onCompare={(ids) => set({ ids })} />
          </Show>
        </details>

        <Show when={store.error()}>
          {(err) => (
            <div class="error" role="alert" data-testid="compare-error">
              <b>Could not compare these runs:</b> {err().message}{' '}
              <button type="button" onClick={() => store.reload()}>
                Retry
              </button>
              <p class="hint">Pick other trainings under “Change the runs compared”.</p>
            </div>
          )}
        </Show>
        <Show when={!data() && store.loading()}>
          <p class="muted" data-testid="compare-loading">
            Loading the comparison…
          </p>
        </Show>

        <Show when={data()}>
          {(c) => (
            <>
              <h2 class="section-title">Settings</h2>
              <ConfigDiff compare={c()} style={style()} />

              <div class="compare-section-head">
                <h2 class="section-title">Curves</h2>
                <div class="compare-controls" role="group" aria-label="curve options">
                  <span class="segmented" role="group" aria-label="x axis">
                    <For each={['step', 'tokens'] as const}>
                      {(x) => (
                        <button type="button" classList={{ active: view().x === x }} aria-pressed={view().x === x} onClick={() => set({ x })} data-testid={`x-${x}`}>
                          {x === 'step' ? 'steps' : 'tokens'}
                        </button>
                      )}
                    </For>
                  </span>
                  <label class="inline">
                    <input type="checkbox" checked={view().log} onChange={(e) => set({ log: e.currentTarget.checked })} data-testid="log-y" />
                    log y
                  </label>
                  <label class="inline smooth-field">
                    smoothing
                    <input
                      type="range"
                      min="0"
                      max={MAX_SMOOTH}
                      step="0.01"
                      value={view().smooth}
                      onInput={(e) => set({ smooth: Number(e.currentTarget.value) })}
                      aria-valuetext={view().smooth > 0 ? `EMA weight ${view().smooth.toFixed(2)}` : 'off (raw points)'}
                      data-testid="smooth"
                    />
                    <output data-testid="smooth-value">{view().smooth > 0 ? view().smooth.toFixed(2) : 'off'}</output>
                  </label>
                </div>
              </div>
              <CurveCharts compare={c()} style={style()} view={view()} />

              <h2 class="section-title">Final metrics</h2>
              <FinalTable runs={c().runs} style={style()} sort={view().sort} onSort={(sort) => set({ sort })} />

              <div class="compare-section-head">
                <h2 class="section-title">Frontier</h2>
                <label class="inline">
                  <span class="muted">y axis</span>
                  <select value={view().frontier} onChange={(e) => set({ frontier: e.currentTarget.value as FrontierY })} data-testid="frontier-y">
                    <For each={FRONTIER_Y}>
                      {(k) => (
                        <option value={k} selected={k === view().frontier}>
                          {metricDef(k).name}
                        </option>
                      )}
                    </For>
                  </select>
                </label>
              </div>
              <Show
                when={frontierDots().length > 0}
                fallback={
                  <p class="muted" data-testid="frontier-empty">
                    No run has both a final L0 and a final {metricDef(view().frontier).name}
                    {view().frontier === 'ceLossRecovered' ? ' (it is measured at evaluations with CE windows)' : ''}.
                  </p>
                }
              >
                <FrontierChart
                  points={frontierDots()}
                  xLabel="L0 (features active a token)"
                  yLabel={metricTitle(view().frontier)}
                  xFormat={(n) => formatMetric('l0', n)}
                  yFormat={(n) => formatMetric(view().frontier, n)}
                  yTickFormat={metricTicks(view().frontier)}
                  onOpen={openRun}
                />
                <p class="muted chart-note">
                  Lower L0 and higher {metricDef(view().frontier).name} are better; the step line joins the runs no other beats on both.
                  {frontierDots().length < c().runs.length ? ` ${c().runs.length - frontierDots().length} of ${c().runs.length} runs lack one of the two values and are not drawn.` : ''}
                </p>
              </Show>
            </>
          )}
        </Show>
      </Show>
    </div>
  );
}
