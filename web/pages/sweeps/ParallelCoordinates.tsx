/**
 * The parallel-coordinates chart (d3): a vertical axis per parameter of the
 * space (a log scale for a log range, a point scale for choices) and the
 * objective's axis last, and one polyline per ended trial with an objective,
 * coloured by how good it is (darker is better; dashed when pruned). A line
 * hovered, or its row in the table, is drawn over the others, which fade, and
 * the trial is named beside it. Axes and lines come from sweep-view.ts
 * (parallelAxes, trialPolyline); the SVG is built once and updates join the
 * lines by trial number.
 */
import * as d3 from 'd3';
import { createEffect, createMemo, createSignal, Show } from 'solid-js';
import { metricDef, type MetricKey } from '../../../models/contracts/metrics.ts';
import type { SweepTrial } from '../../../models/contracts/sweeps.ts';
import type { SearchSpace } from '../../../models/sweep/space.ts';
import { formatMetric, metricTicks } from '../../data/metric-view.ts';
import { endedWithObjective, formatParam, formatParams, objectiveShade, OBJECTIVE_AXIS, parallelAxes, trialPolyline, type ParallelAxis } from '../../data/sweep-view.ts';
import { createChart } from '../../ui/chart.ts';
import { logTicks } from '../../ui/format.ts';

const MARGIN = { top: 30, right: 64, bottom: 12, left: 52 };
const HEIGHT = 280;

/** A line's colour for how good its objective is (0 worst … 1 best): light to dark blue, every shade readable on white. */
export const lineColor = (shade: number) => d3.interpolateBlues(0.35 + 0.65 * shade);

type Line = { number: number; d: string; color: string; pruned: boolean; infeasible: boolean };

/** Draws the axes and a line per ended trial; `data-testid`s: pc-axis (data-key), pc-line (data-number; class active or dim on hover), pc-tip. */
export function ParallelCoordinates(props: {
  space: SearchSpace;
  trials: readonly SweepTrial[];
  metric: MetricKey;
  direction: 'maximize' | 'minimize';
  hovered: number | undefined;
  onHover: (n: number | undefined) => void;
}) {
  const [tip, setTip] = createSignal<{ number: number; left: number; top: number }>();
  const name = () => metricDef(props.metric).name;
  const axes = createMemo(() => parallelAxes(props.space, props.trials, name()));
  const objectiveDomain = () => axes().at(-1)!.domain as [number, number];

  const chart = createChart({}, ({ svg, size }) => {
    const root = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);
    const lines = root.append('g').attr('class', 'pc-lines');
    const hits = root.append('g').attr('class', 'pc-hits');
    const axisLayer = root.append('g').attr('class', 'pc-axes');

    createEffect(() => {
      const w = chart.width();
      if (w <= 0) return;
      size(w, HEIGHT);
      const innerW = Math.max(10, w - MARGIN.left - MARGIN.right);
      const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
      const all = axes();
      const n = all.length;

      // axes: a d3 scale of the same mapping as axisFraction, for the ticks
      const groups = axisLayer
        .selectAll<SVGGElement, ParallelAxis>('g.pc-axis')
        .data(all, (a) => a.key)
        .join((enter) => {
          const g = enter.append('g').attr('class', 'pc-axis axis').attr('data-testid', 'pc-axis');
          g.append('text').attr('class', 'pc-axis-label').attr('y', -14);
          return g;
        })
        .attr('data-key', (a) => a.key)
        .attr('transform', (_a, i) => `translate(${n <= 1 ? innerW / 2 : (i * innerW) / (n - 1)},0)`);
      groups.each(function (a, i) {
        const g = d3.select(this);
        const last = a.key === OBJECTIVE_AXIS;
        const label = g.select<SVGTextElement>('text.pc-axis-label').text(a.label).attr('text-anchor', last && n > 1 ? 'end' : i === 0 && n > 1 ? 'start' : 'middle');
        // the objective's name ends at the chart's right edge: it runs into the margin rather than over the axis before it
        label.attr('x', last && n > 1 ? MARGIN.right - 4 : i === 0 && n > 1 ? -8 : 0);
        let axis: d3.Axis<never>;
        if (a.kind === 'point') {
          const scale = d3.scalePoint<string>().domain(a.domain.map(String)).range([innerH, 0]).padding(0.5);
          const byText = new Map(a.domain.map((v) => [String(v), v]));
          axis = d3.axisLeft(scale).tickFormat((s) => formatParam(byText.get(s))) as unknown as d3.Axis<never>;
        } else {
          const scale = a.kind === 'log' ? d3.scaleLog().domain(a.domain).range([innerH, 0]) : d3.scaleLinear().domain(a.domain).range([innerH, 0]);
          const count = Math.max(2, Math.floor(innerH / 45));
          const ticks = a.kind === 'log' ? logTicks(a.domain[0], a.domain[1], count) : scale.ticks(count);
          const text = last ? metricTicks(props.metric)(ticks) : (v: number) => formatParam(v);
          axis = (last ? d3.axisRight(scale) : d3.axisLeft(scale)).tickValues(ticks).tickFormat((v) => text(+v)) as unknown as d3.Axis<never>;
        }
        g.call(axis.tickSizeOuter(0));
      });

      // one polyline per ended trial with an objective
      const domain = objectiveDomain();
      const data: Line[] = endedWithObjective(props.trials).flatMap((t) => {
        const pts = trialPolyline(all, t, innerW, innerH);
        if (!pts) return [];
        return [{ number: t.number, d: d3.line()(pts) ?? '', color: lineColor(objectiveShade(t.objective, domain, props.direction)), pruned: t.status === 'pruned', infeasible: t.feasible === false }];
      });
      lines
        .selectAll<SVGPathElement, Line>('path')
        .data(data, (l) => l.number)
        .join((enter) => enter.append('path').attr('data-testid', 'pc-line').attr('fill', 'none'))
        .attr('data-number', (l) => l.number)
        .attr('class', (l) => `pc-line${l.pruned ? ' pruned' : ''}${l.infeasible ? ' infeasible' : ''}`)
        .attr('stroke', (l) => l.color)
        .attr('d', (l) => l.d);
      hits
        .selectAll<SVGPathElement, Line>('path')
        .data(data, (l) => l.number)
        .join((enter) =>
          enter
            .append('path')
            .attr('class', 'pc-hit')
            .attr('fill', 'none')
            .on('mouseenter mousemove', (e: MouseEvent, l) => {
              const [px, py] = d3.pointer(e, svg.node());
              if (props.hovered !== l.number) props.onHover(l.number);
              setTip({ number: l.number, left: px, top: py });
            })
            .on('mouseleave', () => {
              props.onHover(undefined);
              setTip(undefined);
            }),
        )
        .attr('data-number', (l) => l.number)
        .attr('d', (l) => l.d);
      applyHover(props.hovered);
    });

    /** the hovered trial's line over the others, which fade */
    const applyHover = (h: number | undefined) => {
      const paths = lines.selectAll<SVGPathElement, Line>('path');
      paths.classed('active', (l) => l.number === h).classed('dim', (l) => h !== undefined && l.number !== h);
      paths.filter((l) => l.number === h).raise();
    };
    createEffect(() => applyHover(props.hovered));
  });

  const tipTrial = () => {
    const t = tip();
    return t ? props.trials.find((x) => x.number === t.number) : undefined;
  };
  const keys = () => Object.keys(props.space);
  return (
    <div class="chart parallel-chart" ref={chart.container} data-testid="parallel-chart">
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label={`parallel coordinates: a line per ended trial across ${keys().join(', ')} and ${name()}; darker lines are better (the trials table lists the same values)`} />
      <div class="chart-legend pc-legend">
        <span>
          {props.direction === 'maximize' ? 'lowest' : 'highest'} {name()} <b data-testid="pc-worst">{formatMetric(props.metric, props.direction === 'maximize' ? objectiveDomain()[0] : objectiveDomain()[1])}</b>
        </span>
        <span class="pc-gradient" aria-hidden="true" style={{ background: `linear-gradient(to right, ${lineColor(0)}, ${lineColor(0.5)}, ${lineColor(1)})` }} />
        <span>
          best <b data-testid="pc-best">{formatMetric(props.metric, props.direction === 'maximize' ? objectiveDomain()[1] : objectiveDomain()[0])}</b>
        </span>
        <span>
          <i class="pc-dash" /> pruned
        </span>
      </div>
      <Show when={tip() && tipTrial()}>
        <div class="chart-tip" data-testid="pc-tip" style={{ left: `${Math.min(tip()!.left + 14, Math.max(0, chart.width() - 230))}px`, top: `${Math.max(0, tip()!.top + 10)}px` }}>
          <div>
            <b>trial #{tipTrial()!.number}</b> · {tipTrial()!.status}
          </div>
          <div>{formatParams(tipTrial()!.params, keys())}</div>
          <div>
            {name()}: <b>{formatMetric(props.metric, tipTrial()!.objective)}</b>
          </div>
        </div>
      </Show>
    </div>
  );
}
