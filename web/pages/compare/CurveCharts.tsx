import * as d3 from 'd3';
import { createMemo, For, Show } from 'solid-js';
import type { Compare } from '../../../models/contracts/compare.ts';
import { metricDef, type MetricKey } from '../../../models/contracts/metrics.ts';
import { CURVE_METRICS, ema, type CompareView } from '../../data/compare-view.ts';
import { formatMetric, metricTicks, metricTip, metricTitle } from '../../data/metric-view.ts';
import { formatInt } from '../../data/training-view.ts';
import { TimeSeriesChart, type ChartSeries } from '../../ui/TimeSeriesChart.tsx';
import type { RunStyle } from './RunName.tsx';

const si = d3.format('~s');

/**
 * One chart per compared metric, a line per run in its colour, against
 * steps or tokens; smoothed (EMA of the server's downsampled points) when
 * asked, with the min–max band of each interval only on raw curves.
 */
export function CurveCharts(props: { compare: Compare; style: RunStyle; view: Pick<CompareView, 'x' | 'log' | 'smooth'> }) {
  const charts = createMemo(() =>
    CURVE_METRICS.map((key) => {
      const series: ChartSeries[] = (props.compare.curves[key] ?? [])
        .filter((c) => c.x.length > 0)
        .map((c) => ({
          label: props.style.label(c.run),
          color: props.style.color(c.run),
          t: c.x,
          v: props.view.smooth > 0 ? ema(c.v, props.view.smooth) : c.v,
          ...(props.view.smooth > 0 ? {} : { min: c.min, max: c.max }),
        }));
      return { key, series };
    }),
  );
  // the charts are keyed by metric: a new smoothing or answer redraws their lines, it does not rebuild them
  const seriesOf = (key: MetricKey) => charts().find((c) => c.key === key)?.series ?? [];
  const drawn = () => charts().filter((c) => c.series.length > 0).map((c) => c.key);
  const missing = () => charts().filter((c) => c.series.length === 0).map((c) => c.key);
  const xMax = createMemo(() => Math.max(1, ...charts().flatMap((c) => c.series.map((s) => s.t[s.t.length - 1] ?? 0))));
  const xFormat = (n: number) => (props.view.x === 'step' ? `step ${formatInt(n)}` : `${si(n)} tokens`);
  // the chart redraws when its props change; `version` is for arrays changed in place, which these never are
  const version = 0;
  return (
    <>
      <div class="compare-charts" data-testid="compare-charts">
        <For each={drawn()}>
          {(key) => (
            <TimeSeriesChart
              testKey={`compare-${key}`}
              testId={`curve-${key}`}
              title={metricTitle(key)}
              titleTip={metricTip(key)}
              series={seriesOf(key)}
              xKind="linear"
              xDomain={[0, xMax()]}
              xFormat={xFormat}
              yFormat={(n) => formatMetric(key, n)}
              yTickFormat={metricTicks(key)}
              yLog={props.view.log}
              version={version}
              showLatest={false}
              height={170}
            />
          )}
        </For>
      </div>
      <Show when={missing().length > 0}>
        <p class="muted chart-note" data-testid="curves-missing">
          Not recorded by any of these runs: {missing().map((key) => metricDef(key).name).join(', ')}.
        </p>
      </Show>
    </>
  );
}
