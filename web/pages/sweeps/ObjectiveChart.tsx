/**
 * The objective over trials (d3): each ended trial's objective at its trial
 * number — completed ones filled (hollow when they break a constraint),
 * pruned ones as triangles, failed or cancelled ones as crosses — and the
 * best so far as a step line. A point is named on hover or focus; the trial
 * hovered in the table is ringed. The SVG is built once; updates move the
 * scales, the axes and the points (keyed by trial number).
 */
import * as d3 from 'd3';
import { createEffect, createSignal, Show } from 'solid-js';
import { metricDef, type MetricKey } from '../../../models/contracts/metrics.ts';
import type { SweepTrial } from '../../../models/contracts/sweeps.ts';
import { formatMetric, metricTicks } from '../../data/metric-view.ts';
import { bestSoFar, endedWithObjective, formatParams } from '../../data/sweep-view.ts';
import { createChart } from '../../ui/chart.ts';

const MARGIN = { top: 10, right: 16, bottom: 36, left: 64 };
const HEIGHT = 240;

type Point = { number: number; objective: number; status: SweepTrial['status']; feasible: boolean | null; best: boolean };

const SYMBOL: Record<SweepTrial['status'], d3.SymbolType> = {
  completed: d3.symbolCircle,
  running: d3.symbolCircle,
  pruned: d3.symbolTriangle,
  failed: d3.symbolCross,
  cancelled: d3.symbolCross,
};

/** Draws the ended trials' objective by trial number and the best so far; `data-testid`s: objective-point (data-number, data-status), best-line, objective-tip. */
export function ObjectiveChart(props: {
  trials: readonly SweepTrial[];
  metric: MetricKey;
  direction: 'maximize' | 'minimize';
  budget: number;
  keys: string[];
  hovered: number | undefined;
  onHover: (n: number | undefined) => void;
}) {
  const [tip, setTip] = createSignal<{ number: number; left: number; top: number }>();
  const name = () => metricDef(props.metric).name;

  const chart = createChart({ margin: MARGIN, xLabel: 'trial', yLabel: name() }, ({ plot, gx, gy, layout }) => {
    const bestLine = plot.append('path').attr('class', 'best-line').attr('data-testid', 'best-line').attr('fill', 'none');
    const dots = plot.append('g').attr('class', 'objective-dots');
    // the scales of the last draw, for the handlers of points drawn before it
    let x = d3.scaleLinear();
    let y = d3.scaleLinear();
    createEffect(() => {
      const w = chart.width();
      if (w <= 0) return;
      const { innerW, innerH } = layout(w, HEIGHT);
      const pts: Point[] = endedWithObjective(props.trials).map((t) => ({ number: t.number, objective: t.objective, status: t.status, feasible: t.feasible, best: t.best }));
      const last = Math.max(props.budget - 1, ...props.trials.map((t) => t.number), 0);
      x = d3.scaleLinear().domain([-0.5, last + 0.5]).range([0, innerW]);
      const xTicks = x.ticks(Math.max(2, Math.min(last + 1, Math.floor(innerW / 50)))).filter((t) => Number.isInteger(t) && t >= 0);
      gx.call(d3.axisBottom(x).tickValues(xTicks).tickFormat(d3.format('d')).tickSizeOuter(0));
      let [lo, hi] = pts.length ? (d3.extent(pts, (p) => p.objective) as [number, number]) : [0, 1];
      const pad = hi > lo ? (hi - lo) * 0.08 : Math.abs(lo) / 10 || 1;
      [lo, hi] = [lo - pad, hi + pad];
      y = d3.scaleLinear().domain([lo, hi]).range([innerH, 0]).nice();
      const yTicks = y.ticks(Math.max(2, Math.floor(innerH / 40)));
      const yText = metricTicks(props.metric)(yTicks);
      gy.call(
        d3
          .axisLeft(y)
          .tickValues(yTicks)
          .tickFormat((d) => yText(+d))
          .tickSize(-innerW),
      );

      const steps = bestSoFar(props.trials, props.direction);
      const ended = pts.length ? Math.max(...pts.map((p) => p.number)) : 0;
      const line = steps.length && ended > steps.at(-1)!.number ? [...steps, { number: ended, value: steps.at(-1)!.value }] : steps;
      bestLine.attr(
        'd',
        d3
          .line<{ number: number; value: number }>()
          .curve(d3.curveStepAfter)
          .x((p) => x(p.number))
          .y((p) => y(p.value))(line) ?? '',
      );

      dots
        .selectAll<SVGPathElement, Point>('path')
        .data(pts, (p) => p.number)
        .join((enter) =>
          enter
            .append('path')
            .attr('tabindex', 0)
            .attr('role', 'img')
            .attr('data-testid', 'objective-point')
            .on('mouseenter focus', (_e: Event, p) => {
              props.onHover(p.number);
              setTip({ number: p.number, left: x(p.number) + MARGIN.left, top: y(p.objective) + MARGIN.top });
            })
            .on('mouseleave blur', () => {
              props.onHover(undefined);
              setTip(undefined);
            }),
        )
        .attr('data-number', (p) => p.number)
        .attr('data-status', (p) => p.status)
        .attr('class', (p) => `objective-point status-${p.status}${p.feasible === false ? ' infeasible' : ''}${p.best ? ' best' : ''}`)
        .attr('d', (p) => d3.symbol(SYMBOL[p.status], p.best ? 90 : 50)())
        .attr('transform', (p) => `translate(${x(p.number)},${y(p.objective)})`)
        .attr('aria-label', (p) => `trial ${p.number}: ${name()} ${formatMetric(props.metric, p.objective)}, ${p.status}${p.feasible === false ? ', breaks a constraint' : ''}${p.best ? ', the best' : ''}`);
    });
    // the trial hovered here or in the table, ringed; without redrawing the rest
    createEffect(() => {
      const h = props.hovered;
      dots.selectAll<SVGPathElement, Point>('path').classed('hovered', (p) => p.number === h);
    });
  });

  const tipTrial = () => {
    const t = tip();
    return t ? props.trials.find((x) => x.number === t.number) : undefined;
  };
  return (
    <div class="chart objective-chart" ref={chart.container} data-testid="objective-chart">
      <svg ref={chart.svg} class="chart-svg" role="group" aria-label={`${name()} of each ended trial by trial number; the step line is the best so far`} />
      <div class="chart-legend sweep-legend">
        <span>
          <b class="glyph completed">●</b> completed
        </span>
        <span>
          <b class="glyph">○</b> breaks a constraint
        </span>
        <span>
          <b class="glyph pruned">▲</b> pruned
        </span>
        <span>
          <b class="glyph failed">✕</b> failed or cancelled
        </span>
        <span>
          <i class="best-swatch" /> best so far
        </span>
      </div>
      <Show when={tip() && tipTrial()}>
        <div class="chart-tip" data-testid="objective-tip" style={{ left: `${Math.min(tip()!.left + 12, Math.max(0, chart.width() - 220))}px`, top: `${Math.max(0, tip()!.top)}px` }}>
          <div>
            <b>trial #{tipTrial()!.number}</b> · {tipTrial()!.status}
          </div>
          <div>
            {name()}: {formatMetric(props.metric, tipTrial()!.objective)}
          </div>
          <div>{formatParams(tipTrial()!.params, props.keys)}</div>
        </div>
      </Show>
    </div>
  );
}
