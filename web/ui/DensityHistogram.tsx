/**
 * The feature-density histogram of an SAE evaluation as a d3 bar chart: how
 * many features fire at each log10 frequency (fixed bins of the evaluation),
 * with the features that never fired in the window as a separate grey bar on
 * the left. Bins below one firing in the whole window cannot hold a feature
 * and are left out. Fits its container's width; a redraw only moves scales,
 * axes and bars.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, Show } from 'solid-js';
import type { EvalValues } from '../../models/contracts/trainings.ts';
import { densityBars, type DensityBar } from '../data/training-history.ts';
import { formatInt } from '../data/training-view.ts';
import { countAxis, createChart } from './chart.ts';

const MARGIN = { top: 8, right: 10, bottom: 34, left: 48 };
/** width of the dead-features bar and its gap, in bins */
const DEAD_SLOT = 1.6;

type Bar = DensityBar & { dead?: boolean };

export function DensityHistogram(props: { density: EvalValues['density']; height?: number; testId?: string }) {
  const [hover, setHover] = createSignal<{ bar: Bar; x: number }>();
  const height = () => props.height ?? 170;

  const chart = createChart({ margin: MARGIN, xLabel: 'log10 firing frequency' }, ({ plot, gx, gy, layout }) => {
    createEffect(() => {
      const w = chart.width();
      const h = height();
      const d = props.density;
      if (w <= 0 || d.counts.length === 0) return;
      const { innerW, innerH } = layout(w, h);

      const all = densityBars(d);
      // One firing in the window is the rarest a live feature can be: bins wholly below it stay empty.
      const floor = d.tokens > 0 ? -Math.log10(d.tokens) : all[0]!.from;
      const bars: Bar[] = all.filter((b, i) => b.to > floor || b.count > 0 || i === all.length - 1);
      const bin = bars[0]!.to - bars[0]!.from;
      const lo = bars[0]!.from;
      const hi = bars.at(-1)!.to;
      const dead: Bar = { from: lo - DEAD_SLOT * bin, to: lo - (DEAD_SLOT - 1) * bin, count: d.dead, dead: true };
      const x = d3
        .scaleLinear()
        .domain([dead.from, hi])
        .range([0, innerW]);
      const y = d3
        .scaleLinear()
        .domain([0, Math.max(1, d.dead, ...bars.map((b) => b.count))])
        .range([innerH, 0])
        .nice();
      gx.call(
        d3
          .axisBottom(x)
          .tickValues([...d3.range(Math.ceil(lo), Math.floor(hi) + 1), (dead.from + dead.to) / 2])
          .tickFormat((v) => (+v < lo ? 'dead' : String(+v)))
          .tickSizeOuter(0),
      );
      gy.call(countAxis(y, innerW));
      const gap = Math.min(1, (x(bars[0]!.to) - x(bars[0]!.from)) * 0.08);
      plot
        .selectAll<SVGRectElement, Bar>('rect.bar')
        .data([dead, ...bars], (b) => (b.dead ? 'dead' : String(b.from)))
        .join('rect')
        .attr('class', (b) => (b.dead ? 'bar dead' : 'bar'))
        .attr('data-testid', (b) => (b.dead ? 'density-dead' : 'density-bar'))
        .attr('data-count', (b) => b.count)
        .attr('x', (b) => x(b.from) + gap)
        .attr('width', (b) => Math.max(1, x(b.to) - x(b.from) - 2 * gap))
        .attr('y', (b) => y(b.count))
        .attr('height', (b) => innerH - y(b.count))
        .on('mouseenter', (_e, b) => setHover({ bar: b, x: MARGIN.left + x((b.from + b.to) / 2) }))
        .on('mouseleave', () => setHover(undefined));
    });
  });

  const tip = (b: Bar) => (b.dead ? 'never fired' : `10^${b.from.toFixed(2)} – 10^${b.to.toFixed(2)} of tokens`);
  return (
    <div class="chart density-histogram" ref={chart.container} data-testid={props.testId}>
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label="Histogram of feature firing frequencies (log10)" />
      <Show when={hover()}>
        {(hv) => (
          <div class="chart-tip" style={{ left: `${Math.max(0, Math.min(hv().x - 70, chart.width() - 190))}px`, top: '0px' }}>
            {tip(hv().bar)}: <b>{formatInt(hv().bar.count)}</b> features
          </div>
        )}
      </Show>
    </div>
  );
}
