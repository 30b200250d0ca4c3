/**
 * A d3 bar chart of a hook's per-dimension variance, as the server
 * downsampled it: one bar per bucket of `bucket` consecutive dimensions (its
 * mean), a tick at each bucket's max, and a hover readout. The y axis turns
 * logarithmic when the values span more than three decades (a residual
 * stream's few huge dimensions would flatten every other bar). The SVG is
 * built once; updates only move scales, axes and bars.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, Show } from 'solid-js';
import { formatStat } from '../data/extraction-view.ts';
import { createChart } from './chart.ts';

export interface VarianceChartProps {
  /** per bucket: mean and max of the variance of its dimensions */
  mean: readonly number[];
  max: readonly number[];
  /** dimensions a bucket */
  bucket: number;
  /** total dimensions */
  d: number;
  testId?: string;
  height?: number;
}

const MARGIN = { top: 6, right: 10, bottom: 20, left: 56 };

/** Whether values spanning [lo, hi] read better on a log axis. */
export function wantsLog(values: readonly number[]): boolean {
  const positive = values.filter((v) => v > 0);
  if (positive.length < values.length || positive.length === 0) return false;
  return Math.max(...positive) / Math.min(...positive) > 1000;
}

export function VarianceChart(props: VarianceChartProps) {
  const [hover, setHover] = createSignal<{ x: number; i: number }>();
  const height = () => props.height ?? 130;
  const log = () => wantsLog(props.max);

  const chart = createChart({ margin: MARGIN }, ({ svg, plot, gx, gy, layout }) => {
    const bars = plot.append('g').attr('class', 'bars');
    const maxes = plot.append('g').attr('class', 'maxes');
    let x = d3.scaleBand<number>();

    createEffect(() => {
      const w = chart.width();
      const h = height();
      const n = props.mean.length;
      if (w <= 0 || n === 0) return;
      const { innerW, innerH } = layout(w, h);
      x = d3.scaleBand<number>().domain(d3.range(n)).range([0, innerW]).paddingInner(n > 64 ? 0 : 0.1);
      const hi = Math.max(...props.max, 1e-12);
      const y = log()
        ? d3.scaleLog().domain([Math.max(Math.min(...props.mean.filter((v) => v > 0)), hi * 1e-9), hi]).range([innerH, 0]).nice().clamp(true)
        : d3.scaleLinear().domain([0, hi]).range([innerH, 0]).nice();
      const base = log() ? innerH : y(0);
      const xAxis = d3
        .axisBottom(d3.scaleLinear().domain([0, props.d]).range([0, innerW]))
        .ticks(Math.max(2, Math.floor(innerW / 80)))
        .tickFormat(d3.format('d'))
        .tickSizeOuter(0);
      gx.call(xAxis);
      gy.call(
        d3
          .axisLeft(y)
          .ticks(Math.max(2, Math.floor(innerH / 30)), log() ? '.0e' : undefined)
          .tickSize(-innerW),
      );
      bars
        .selectAll('rect')
        .data(props.mean)
        .join('rect')
        .attr('fill', '#2563eb')
        .attr('x', (_, i) => x(i)!)
        .attr('width', Math.max(1, x.bandwidth()))
        .attr('y', (v) => Math.min(base, y(Math.max(v, y.domain()[0]!))))
        .attr('height', (v) => Math.max(0, base - y(Math.max(v, y.domain()[0]!))));
      maxes
        .selectAll('line')
        .data(props.bucket > 1 ? props.max : [])
        .join('line')
        .attr('stroke', '#f59e0b')
        .attr('stroke-width', 1.5)
        .attr('x1', (_, i) => x(i)!)
        .attr('x2', (_, i) => x(i)! + Math.max(1, x.bandwidth()))
        .attr('y1', (v) => y(v))
        .attr('y2', (v) => y(v));
    });

    svg
      .on('mousemove', (event: MouseEvent) => {
        const [mx] = d3.pointer(event, plot.node());
        const step = x.step();
        const i = Math.floor(mx / (step || 1));
        if (mx < 0 || i < 0 || i >= props.mean.length) return setHover(undefined);
        setHover({ x: mx + MARGIN.left, i });
      })
      .on('mouseleave', () => setHover(undefined));
  });

  const range = (i: number) => {
    const lo = i * props.bucket;
    const hi = Math.min(props.d, lo + props.bucket) - 1;
    return lo === hi ? `dim ${lo}` : `dims ${lo}–${hi}`;
  };

  return (
    <div class="chart variance-chart" ref={chart.container} data-testid={props.testId}>
      <div class="chart-legend">
        <span>
          <i style={{ background: '#2563eb' }} />
          variance{props.bucket > 1 ? ` (mean of ${props.bucket} dims)` : ''}
        </span>
        <Show when={props.bucket > 1}>
          <span>
            <i style={{ background: '#f59e0b' }} />
            max
          </span>
        </Show>
        <Show when={log()}>
          <span>log scale</span>
        </Show>
      </div>
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label="per-dimension variance" />
      <Show when={hover()}>
        {(h) => (
          <div class="chart-tip" style={{ left: `${Math.min(h().x + 12, Math.max(0, chart.width() - 180))}px` }}>
            <div class="chart-tip-time">{range(h().i)}</div>
            <div>
              variance: <b>{formatStat(props.mean[h().i]!)}</b>
              <Show when={props.bucket > 1}> · max {formatStat(props.max[h().i]!)}</Show>
            </div>
          </div>
        )}
      </Show>
    </div>
  );
}
