/**
 * The distribution of document lengths as a d3 bar chart over the log-spaced
 * bins of stats.json (1, 2, 3, 4–5, 6–7, 8–11, … tokens), with a count axis
 * and a readout of the bar under the pointer. Takes the bars and fits its
 * container's width; a redraw only moves scales, axes and bars.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, Show } from 'solid-js';
import { formatInt, type LengthBar } from '../data/dataset-view.ts';
import { countAxis, createChart } from './chart.ts';

const MARGIN = { top: 8, right: 8, bottom: 34, left: 52 };

export function LengthHistogram(props: { bars: LengthBar[]; height?: number }) {
  const [hover, setHover] = createSignal<{ bar: LengthBar; x: number }>();
  const height = () => props.height ?? 180;

  const chart = createChart({ margin: MARGIN, xLabel: 'document length, tokens' }, ({ plot, gx, gy, layout }) => {
    createEffect(() => {
      const w = chart.width();
      const h = height();
      const bars = props.bars;
      if (w <= 0) return;
      const { innerW, innerH } = layout(w, h);
      const x = d3
        .scaleBand<string>()
        .domain(bars.map((b) => b.label))
        .range([0, innerW])
        .padding(0.12);
      const y = d3
        .scaleLinear()
        .domain([0, d3.max(bars, (b) => b.count) || 1])
        .range([innerH, 0])
        .nice();
      // Labels on every bar would overlap: keep about one per 44 px.
      const every = Math.max(1, Math.ceil(bars.length / Math.max(1, Math.floor(innerW / 44))));
      gx.call(
        d3
          .axisBottom(x)
          .tickValues(bars.filter((_, i) => i % every === 0).map((b) => b.label))
          .tickSizeOuter(0),
      );
      gy.call(countAxis(y, innerW));
      plot
        .selectAll<SVGRectElement, LengthBar>('rect.bar')
        .data(bars, (b) => b.label)
        .join('rect')
        .attr('class', 'bar')
        .attr('data-testid', 'histogram-bar')
        .attr('x', (b) => x(b.label)!)
        .attr('width', x.bandwidth())
        .attr('y', (b) => y(b.count))
        .attr('height', (b) => innerH - y(b.count))
        .on('mouseenter', (_e, b) => setHover({ bar: b, x: MARGIN.left + x(b.label)! + x.bandwidth() / 2 }))
        .on('mouseleave', () => setHover(undefined));
    });
  });

  return (
    <div class="chart length-histogram" ref={chart.container} data-testid="length-histogram">
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label="Histogram of document lengths in tokens" />
      <Show when={hover()}>
        {(hv) => (
          <div class="chart-tip" style={{ left: `${Math.max(0, hv().x - 70)}px`, top: '0px' }}>
            {hv().bar.label} tokens: <b>{formatInt(hv().bar.count)}</b> documents
          </div>
        )}
      </Show>
    </div>
  );
}
