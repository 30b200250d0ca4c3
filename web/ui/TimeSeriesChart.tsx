/**
 * A d3 series chart: one line per series (a point where a value stands
 * alone, e.g. the first evaluation), an optional min–max band (the extremes
 * of each downsampled bucket, named in the legend), axes whose ticks share
 * one number form, drawn under the data, and a hover readout. The x axis is
 * time (ms) by default, or any number (`xKind: 'linear'`, e.g. training
 * steps); the y axis linear, or logarithmic (`yLog`: values ≤ 0 are not
 * drawn there, and a chart with none above 0 stays linear). The SVG is built
 * once; updates only move scales, axes and path data.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, For, Index, Show } from 'solid-js';
import { createChart, PALETTE } from './chart.ts';
import { logTicks, numberTicks, type TickFormat } from './format.ts';

/** One line of a chart. Arrays are aligned: t[i] (ms, or the x value of a linear chart; ascending) ↔ v[i]. */
export interface ChartSeries {
  label: string;
  color?: string;
  t: readonly number[];
  v: readonly number[];
  min?: readonly number[];
  max?: readonly number[];
}

export interface TimeSeriesChartProps {
  /** `data-testid` suffix of the latest-value readout: `latest-<testKey>` */
  testKey: string;
  title: string;
  /** the title's tooltip (a metric's definition, from the registry) */
  titleTip?: string;
  series: ChartSeries[];
  /** [from, to] in ms (or x units of a linear chart) */
  xDomain: [number, number];
  /** x axis: time in ms (default), or plain numbers such as steps */
  xKind?: 'time' | 'linear';
  /** labels of a linear x axis and of its hover readout (d3's SI format otherwise) */
  xFormat?: (n: number) => string;
  /** `data-testid` of the chart's container */
  testId?: string;
  /** the hover readout's and the latest value's format */
  yFormat: (n: number) => string;
  /** the y axis's ticks, all in one form (format.ts: numberTicks, fractionTicks, byteTicks, rateTicks); default plain numbers */
  yTickFormat?: TickFormat;
  /** fixed y range; otherwise from 0 (or the data's minimum) to the data's maximum */
  yDomain?: [number, number];
  /** a logarithmic y axis over the values above 0 (a fixed `yDomain` from 0 is then ignored) */
  yLog?: boolean;
  /** tick values for a y range (e.g. {@link binaryTicks} for bytes); d3's decimal ticks otherwise ({@link logTicks} on a log axis) */
  yTicks?: (lo: number, hi: number, count: number) => number[];
  /** the first series' newest value beside the title (default: shown) */
  showLatest?: boolean;
  height?: number;
  /** redraw trigger: a signal that changes when the arrays were mutated in place */
  version: number;
}

/** Whether a series has a min–max band with a height somewhere (a bucket whose extremes differ). */
const banded = (s: ChartSeries) => !!s.min && !!s.max && s.min.some((lo, i) => s.max![i]! > lo);

const MARGIN = { top: 8, right: 12, bottom: 22, left: 64 };

export function TimeSeriesChart(props: TimeSeriesChartProps) {
  const [hover, setHover] = createSignal<{ x: number; t: number; values: { label: string; color: string; v: number }[] }>();
  const height = () => props.height ?? 160;
  const color = (s: ChartSeries, i: number) => s.color ?? PALETTE[i % PALETTE.length]!;
  const linear = () => props.xKind === 'linear';

  const chart = createChart({ margin: MARGIN }, ({ svg, plot, gx, gy, layout }) => {
    const bands = plot.append('g').attr('class', 'bands');
    const lines = plot.append('g').attr('class', 'lines');
    const dots = plot.append('g').attr('class', 'dots');
    const cursor = plot.append('line').attr('class', 'cursor').attr('y1', 0).style('display', 'none');

    let x: d3.ScaleTime<number, number> | d3.ScaleLinear<number, number> = d3.scaleTime();
    /** the x value (ms or number) at a pixel offset of the plot */
    const invertX = (px: number): number => {
      const v = x.invert(px);
      return v instanceof Date ? v.getTime() : v;
    };
    createEffect(() => {
      props.version; // redraw when data changed in place
      const w = chart.width();
      const h = height();
      if (w <= 0) return;
      const { innerW, innerH } = layout(w, h);
      x = linear() ? d3.scaleLinear().domain(props.xDomain).range([0, innerW]) : d3.scaleTime().domain(props.xDomain).range([0, innerW]);
      // a log axis spans the values above 0 (a band's low end included where it is above 0), with a margin
      let log = !!props.yLog;
      let lo = Infinity;
      let hi = -Infinity;
      if (log) {
        for (const s of props.series) {
          for (const arr of [s.v, s.min ?? [], s.max ?? []]) for (const v of arr) if (v > 0 && Number.isFinite(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
        }
        log = Number.isFinite(lo);
        if (log) [lo, hi] = hi > lo ? [lo / 1.1, hi * 1.1] : [lo / 2, hi * 2];
      }
      const fixed = props.yDomain && !(log && props.yDomain[0] <= 0) ? props.yDomain : undefined;
      if (fixed) [lo, hi] = fixed;
      else if (!log) {
        lo = Infinity;
        hi = -Infinity;
        for (const s of props.series) {
          for (const v of s.max ?? s.v) if (v > hi) hi = v;
          for (const v of s.min ?? s.v) if (v < lo) lo = v;
        }
        lo = Math.min(0, Number.isFinite(lo) ? lo : 0);
        hi = Number.isFinite(hi) && hi > lo ? hi * 1.05 : lo + 1;
      }
      const y: d3.ScaleContinuousNumeric<number, number> = log ? d3.scaleLog().domain([lo, hi]).range([innerH, 0]) : d3.scaleLinear().domain([lo, hi]).range([innerH, 0]).nice();
      /** a value as drawn: on a log axis, one at or below 0 is not drawn, and a band's low end stops at the axis */
      const shown = (v: number) => Number.isFinite(v) && (!log || v > 0);
      const yBand = (v: number) => y(log ? Math.max(v, lo) : v);
      const xAxis = d3
        .axisBottom(x as d3.AxisScale<d3.NumberValue>)
        .ticks(Math.max(2, Math.floor(innerW / 90)))
        .tickSizeOuter(0);
      if (linear()) xAxis.tickFormat((d) => (props.xFormat ?? d3.format('~s'))(+d));
      gx.call(xAxis);
      const yCount = Math.max(2, Math.floor(innerH / 35));
      const yAxis = d3.axisLeft(y);
      const ticksOf = props.yTicks ?? (log ? logTicks : undefined);
      const tickValues = ticksOf ? ticksOf(y.domain()[0]!, y.domain()[1]!, yCount) : y.ticks(yCount);
      const tickText = (props.yTickFormat ?? numberTicks())(tickValues);
      gy.call(
        yAxis
          .tickValues(tickValues)
          .tickFormat((d) => tickText(+d))
          .tickSize(-innerW),
      );
      cursor.attr('y2', innerH);

      lines
        .selectAll<SVGPathElement, ChartSeries>('path')
        .data(props.series, (s) => (s as ChartSeries).label)
        .join('path')
        .attr('fill', 'none')
        .attr('stroke-width', 1.5)
        .attr('stroke', (s, i) => color(s, i))
        .attr(
          'd',
          (s) =>
            d3
              .line<number>()
              .defined((i) => shown(s.v[i]!))
              .x((i) => x(s.t[i]!))
              .y((i) => y(s.v[i]!))(d3.range(s.t.length)) ?? '',
        );
      // a value with no defined neighbour draws no line segment: a dot shows it (a one-point CE-loss series)
      const alone = props.series.flatMap((s, si) => {
        const ok = (i: number) => i >= 0 && i < s.v.length && shown(s.v[i]!);
        return d3
          .range(s.t.length)
          .filter((i) => ok(i) && !ok(i - 1) && !ok(i + 1))
          .map((i) => ({ key: `${s.label}:${i}`, x: x(s.t[i]!), y: y(s.v[i]!), color: color(s, si) }));
      });
      dots
        .selectAll<SVGCircleElement, (typeof alone)[number]>('circle')
        .data(alone, (d) => d.key)
        .join('circle')
        .attr('r', 3)
        .attr('data-testid', 'chart-dot')
        .attr('fill', (d) => d.color)
        .attr('cx', (d) => d.x)
        .attr('cy', (d) => d.y);
      bands
        .selectAll<SVGPathElement, ChartSeries>('path')
        .data(
          // a band only where it has a height somewhere: the legend names exactly the bands drawn
          props.series.filter(banded),
          (s) => (s as ChartSeries).label,
        )
        .join('path')
        .attr('fill', (s) => color(s, props.series.indexOf(s)))
        .attr('fill-opacity', 0.15)
        .attr('stroke', 'none')
        .attr('d', (s) =>
          d3
            .area<number>()
            .x((i) => x(s.t[i]!))
            .y0((i) => yBand(s.min![i]!))
            .y1((i) => yBand(s.max![i]!))(d3.range(s.t.length)) ?? '',
        );
    });

    const bisect = d3.bisector((t: number) => t).center;
    svg
      .on('mousemove', (event: MouseEvent) => {
        const [mx] = d3.pointer(event, plot.node());
        const t = invertX(mx);
        const values = props.series.flatMap((s, i) => {
          if (!s.t.length) return [];
          const j = bisect(s.t as number[], t);
          return [{ label: s.label, color: color(s, i), v: s.v[j]! }];
        });
        if (!values.length || mx < 0) {
          setHover(undefined);
          cursor.style('display', 'none');
          return;
        }
        cursor.style('display', null).attr('x1', mx).attr('x2', mx);
        setHover({ x: mx + MARGIN.left, t, values });
      })
      .on('mouseleave', () => {
        setHover(undefined);
        cursor.style('display', 'none');
      });
  });

  /** whether a min–max band is drawn: a band wider than the line somewhere */
  const hasBand = () => {
    props.version;
    return props.series.some(banded);
  };

  const latest = () => {
    props.version;
    const s = props.series[0];
    return s && s.v.length ? props.yFormat(s.v[s.v.length - 1]!) : '–';
  };

  return (
    <div class="chart" ref={chart.container} data-testid={props.testId}>
      <div class="chart-head">
        <span class="chart-title" title={props.titleTip}>
          {props.title}
        </span>
        <Show when={props.showLatest ?? true}>
          <span class="chart-latest" data-testid={`latest-${props.testKey}`}>
            {latest()}
          </span>
        </Show>
      </div>
      <Show when={props.series.length > 1 || hasBand()}>
        <div class="chart-legend" data-testid="chart-legend">
          <Index each={props.series.slice(0, 8)}>
            {(s, i) => (
              <span>
                <i style={{ background: color(s(), i) }} />
                {s().label}
              </span>
            )}
          </Index>
          <Show when={props.series.length > 8}>
            <span>+{props.series.length - 8} more</span>
          </Show>
          <Show when={hasBand()}>
            <span title="each point is the last value of its interval; the band spans the interval's lowest to highest" data-testid="band-legend">
              <i class="band-swatch" />
              min–max of each interval
            </span>
          </Show>
        </div>
      </Show>
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label={props.title} />
      <Show when={hover()}>
        {(h) => (
          <div class="chart-tip" style={{ left: `${Math.min(h().x + 12, Math.max(0, chart.width() - 180))}px` }}>
            <div class="chart-tip-time">{linear() ? (props.xFormat ?? String)(Math.round(h().t)) : new Date(h().t).toLocaleTimeString()}</div>
            <For each={h().values}>
              {(v) => (
                <div class="chart-tip-row">
                  <i style={{ background: v.color }} />
                  <span>
                    {v.label}: <b>{props.yFormat(v.v)}</b>
                  </span>
                </div>
              )}
            </For>
          </div>
        )}
      </Show>
    </div>
  );
}
