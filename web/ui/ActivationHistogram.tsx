/**
 * A feature's activation histogram as a d3 bar chart over its log-spaced
 * bins (the values where it is active; a log axis, so every bin is as wide),
 * with a readout of the bar under the pointer. Fits its container's width; a
 * redraw only moves scales, axes and bars.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, Show } from 'solid-js';
import { formatInt } from '../data/dataset-view.ts';
import { formatValue, histogramBars, type HistogramBar } from '../data/feature-view.ts';
import { countAxis, createChart } from './chart.ts';

const MARGIN = { top: 8, right: 10, bottom: 34, left: 60 };

export function ActivationHistogram(props: { histogram: { edges: number[]; counts: number[] }; height?: number }) {
  const [hover, setHover] = createSignal<{ bar: HistogramBar; x: number }>();
  const height = () => props.height ?? 160;

  const chart = createChart({ margin: MARGIN, xLabel: 'activation value (log scale)', yLabel: 'tokens' }, ({ plot, gx, gy, layout }) => {
    createEffect(() => {
      const w = chart.width();
      const h = height();
      const bars = histogramBars(props.histogram).filter((b) => b.x0 > 0 && b.x1 > b.x0);
      if (w <= 0 || bars.length === 0) return;
      const { innerW, innerH } = layout(w, h);
      const x = d3
        .scaleLog()
        .domain([bars[0]!.x0, bars.at(-1)!.x1])
        .range([0, innerW]);
      const y = d3
        .scaleLinear()
        .domain([0, d3.max(bars, (b) => b.count) || 1])
        .range([innerH, 0])
        .nice();
      // Powers of ten inside the range (or the range's ends when it holds none).
      const lo = Math.ceil(Math.log10(bars[0]!.x0) - 1e-9);
      const hi = Math.floor(Math.log10(bars.at(-1)!.x1) + 1e-9);
      const ticks = hi >= lo ? d3.range(lo, hi + 1).map((p) => 10 ** p) : [bars[0]!.x0, bars.at(-1)!.x1];
      gx.call(
        d3
          .axisBottom(x)
          .tickValues(ticks)
          .tickFormat((v) => formatValue(Number(v)))
          .tickSizeOuter(0),
      );
      gy.call(countAxis(y, innerW));
      const rects = plot
        .selectAll<SVGRectElement, HistogramBar>('rect.bar')
        .data(bars, (b) => String(b.x0))
        .join((enter) => {
          const r = enter.append('rect').attr('class', 'bar');
          r.append('title');
          return r;
        });
      rects.select('title').text((b) => `${formatValue(b.x0)} – ${formatValue(b.x1)}: ${formatInt(b.count)} tokens`);
      rects
        .attr('data-testid', 'act-hist-bar')
        .attr('data-count', (b) => b.count)
        .attr('x', (b) => x(b.x0) + 0.5)
        .attr('width', (b) => Math.max(1, x(b.x1) - x(b.x0) - 1))
        .attr('y', (b) => y(b.count))
        .attr('height', (b) => innerH - y(b.count))
        .on('mouseenter', (_e, b) => setHover({ bar: b, x: MARGIN.left + x(Math.sqrt(b.x0 * b.x1)) }))
        .on('mouseleave', () => setHover(undefined));
    });
  });

  return (
    <div class="chart activation-histogram" ref={chart.container} data-testid="activation-histogram">
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label="Histogram of the feature's activation values, log scale" />
      <Show when={hover()}>
        {(hv) => (
          <div class="chart-tip" style={{ left: `${Math.max(0, Math.min(hv().x - 70, chart.width() - 200))}px`, top: '0px' }} data-testid="act-hist-tip">
            {formatValue(hv().bar.x0)} – {formatValue(hv().bar.x1)}: <b>{formatInt(hv().bar.count)}</b> tokens
          </div>
        )}
      </Show>
    </div>
  );
}
