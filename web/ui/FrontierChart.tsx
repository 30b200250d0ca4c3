/**
 * A frontier chart: one point per run (x lower is better, y higher is
 * better), the Pareto front drawn as a step line through the points no
 * other dominates, each point named on hover or focus and opened on a click
 * or Enter. The SVG is built once; updates move scales, axes and points.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, Show } from 'solid-js';
import { paretoFront, type FrontierPoint } from '../data/compare-view.ts';
import { createChart } from './chart.ts';
import { numberTicks, type TickFormat } from './format.ts';

/** A run on the chart. */
export interface FrontierDot extends FrontierPoint {
  label: string;
  color: string;
}

/** What the chart draws, and what a click on a point does. */
export interface FrontierChartProps {
  points: FrontierDot[];
  xLabel: string;
  yLabel: string;
  xFormat: (n: number) => string;
  yFormat: (n: number) => string;
  /** the y axis's ticks, in one form (default plain numbers) */
  yTickFormat?: TickFormat;
  /** a point clicked (or Enter on it) */
  onOpen: (key: string) => void;
  height?: number;
}

const MARGIN = { top: 10, right: 18, bottom: 36, left: 62 };

/** Draws the points and their front; `data-testid`s: frontier-point (with data-key, data-front), frontier-front, frontier-tip. */
export function FrontierChart(props: FrontierChartProps) {
  const [hover, setHover] = createSignal<{ p: FrontierDot; left: number; top: number }>();
  const height = () => props.height ?? 260;

  const chart = createChart({ margin: MARGIN, xLabel: props.xLabel, yLabel: props.yLabel }, ({ svg, plot, gx, gy, layout }) => {
    const front = plot.append('path').attr('class', 'frontier-front').attr('data-testid', 'frontier-front').attr('fill', 'none');
    const dots = plot.append('g').attr('class', 'frontier-dots');
    createEffect(() => {
      const w = chart.width();
      if (w <= 0) return;
      const { innerW, innerH } = layout(w, height());
      svg.selectAll('text.axis-label').data([props.xLabel, props.yLabel]).text((d) => d);
      const pts = props.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
      // a margin around the points, so that none sits on an axis
      const pad = (lo: number, hi: number): [number, number] => {
        const span = hi - lo || Math.abs(hi) || 1;
        return [lo - span * 0.08, hi + span * 0.08];
      };
      const [x0, x1] = pts.length ? pad(d3.min(pts, (p) => p.x)!, d3.max(pts, (p) => p.x)!) : [0, 1];
      const [y0, y1] = pts.length ? pad(d3.min(pts, (p) => p.y)!, d3.max(pts, (p) => p.y)!) : [0, 1];
      const x = d3.scaleLinear().domain([Math.max(0, x0), x1]).range([0, innerW]).nice();
      const y = d3.scaleLinear().domain([y0, y1]).range([innerH, 0]).nice();
      const xTicks = x.ticks(Math.max(2, Math.floor(innerW / 80)));
      const xText = numberTicks()(xTicks);
      gx.call(d3.axisBottom(x).tickValues(xTicks).tickFormat((d) => xText(+d)).tickSizeOuter(0));
      const yTicks = y.ticks(Math.max(2, Math.floor(innerH / 40)));
      const yText = (props.yTickFormat ?? numberTicks())(yTicks);
      gy.call(
        d3
          .axisLeft(y)
          .tickValues(yTicks)
          .tickFormat((d) => yText(+d))
          .tickSize(-innerW),
      );
      const onFront = new Set(paretoFront(pts).map((p) => p.key));
      const frontPts = pts.filter((p) => onFront.has(p.key)).sort((a, b) => a.x - b.x || a.y - b.y);
      // lower x and higher y are better: from each front point the best y reachable holds until the next point's x
      front.attr(
        'd',
        d3
          .line<FrontierDot>()
          .curve(d3.curveStepAfter)
          .x((p) => x(p.x))
          .y((p) => y(p.y))(frontPts) ?? '',
      );
      dots
        .selectAll<SVGCircleElement, FrontierDot>('circle')
        .data(pts, (p) => p.key)
        .join((enter) =>
          enter
            .append('circle')
            .attr('r', 6)
            .attr('tabindex', 0)
            .attr('role', 'link')
            .attr('data-testid', 'frontier-point')
            .on('mouseenter focus', (_e: Event, p) => setHover({ p, left: x(p.x) + MARGIN.left, top: y(p.y) + MARGIN.top }))
            .on('mouseleave blur', () => setHover(undefined))
            .on('click', (_e: Event, p) => props.onOpen(p.key))
            .on('keydown', (e: KeyboardEvent, p) => {
              if (e.key !== 'Enter' && e.key !== ' ') return;
              e.preventDefault();
              props.onOpen(p.key);
            }),
        )
        .attr('data-key', (p) => p.key)
        .attr('data-front', (p) => String(onFront.has(p.key)))
        .attr('class', (p) => (onFront.has(p.key) ? 'frontier-point on-front' : 'frontier-point'))
        .attr('fill', (p) => p.color)
        .attr('aria-label', (p) => `${p.label}: ${props.xLabel} ${props.xFormat(p.x)}, ${props.yLabel} ${props.yFormat(p.y)}${onFront.has(p.key) ? ', on the front' : ''}; open its training`)
        .attr('cx', (p) => x(p.x))
        .attr('cy', (p) => y(p.y));
    });
  });

  return (
    <div class="chart frontier-chart" ref={chart.container} data-testid="frontier-chart">
      <svg ref={chart.svg} class="chart-svg" role="group" aria-label={`${props.yLabel} against ${props.xLabel}, one point per run; the step line is the Pareto front`} />
      <Show when={hover()}>
        {(h) => (
          <div class="chart-tip frontier-tip" data-testid="frontier-tip" style={{ left: `${Math.min(h().left + 12, Math.max(0, chart.width() - 200))}px`, top: `${Math.max(0, h().top - 20)}px` }}>
            <div class="chart-tip-row">
              <i style={{ background: h().p.color }} />
              <b>{h().p.label}</b>
            </div>
            <div>
              {props.xLabel}: {props.xFormat(h().p.x)}
            </div>
            <div>
              {props.yLabel}: {props.yFormat(h().p.y)}
            </div>
          </div>
        )}
      </Show>
    </div>
  );
}
