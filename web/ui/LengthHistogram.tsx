/**
 * The distribution of document lengths as a d3 bar chart over the log-spaced
 * bins of stats.json (1, 2, 3, 4–5, 6–7, 8–11, … tokens), with a count axis
 * and a readout of the bar under the pointer. Takes the bars and fits its
 * container's width; a redraw only moves scales, axes and bars.
 */
import * as d3 from 'd3';
import { createEffect, createSignal, onCleanup, onMount, Show } from 'solid-js';
import type { LengthBar } from '../data/dataset-view.ts';
import { formatInt } from '../data/dataset-view.ts';

const MARGIN = { top: 8, right: 8, bottom: 34, left: 52 };

export function LengthHistogram(props: { bars: LengthBar[]; height?: number }) {
  let container!: HTMLDivElement;
  let svgEl!: SVGSVGElement;
  const [width, setWidth] = createSignal(0);
  const [hover, setHover] = createSignal<{ bar: LengthBar; x: number }>();
  const height = () => props.height ?? 180;

  onMount(() => {
    const ro = new ResizeObserver((entries) => setWidth(Math.floor(entries[0]!.contentRect.width)));
    ro.observe(container);
    onCleanup(() => ro.disconnect());

    const svg = d3.select(svgEl);
    const plot = svg.append('g').attr('class', 'plot');
    const gx = svg.append('g').attr('class', 'axis axis-x');
    const gy = svg.append('g').attr('class', 'axis axis-y');
    const label = svg.append('text').attr('class', 'axis-label').attr('text-anchor', 'middle').text('document length, tokens');

    createEffect(() => {
      const w = width();
      const h = height();
      const bars = props.bars;
      if (w <= 0) return;
      const innerW = Math.max(10, w - MARGIN.left - MARGIN.right);
      const innerH = Math.max(10, h - MARGIN.top - MARGIN.bottom);
      svg.attr('width', w).attr('height', h).attr('viewBox', `0 0 ${w} ${h}`);
      plot.attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);
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
      gx.attr('transform', `translate(${MARGIN.left},${MARGIN.top + innerH})`).call(
        d3
          .axisBottom(x)
          .tickValues(bars.filter((_, i) => i % every === 0).map((b) => b.label))
          .tickSizeOuter(0),
      );
      gy.attr('transform', `translate(${MARGIN.left},${MARGIN.top})`).call(d3.axisLeft(y).ticks(4).tickFormat((v) => formatInt(Number(v))).tickSize(-innerW));
      label.attr('x', MARGIN.left + innerW / 2).attr('y', h - 4);
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
    <div class="chart length-histogram" ref={container} data-testid="length-histogram">
      <svg ref={svgEl} class="chart-svg" role="img" aria-label="Histogram of document lengths in tokens" />
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
