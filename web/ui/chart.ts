/**
 * What every d3 chart of the app shares: the width of its container (a
 * ResizeObserver), the SVG sized to it, and for charts with axes the plot
 * group (drawn over the axes and their grid lines), the two axis groups and
 * optional titles under the x axis and beside the y axis, placed by the
 * chart's margins. The chart builds the rest once, and redraws only
 * what changed in its own effect.
 */
import * as d3 from 'd3';
import { createSignal, onCleanup, onMount, type Accessor } from 'solid-js';
import { formatInt } from '../data/dataset-view.ts';

/** Line colours, in the order series take them (a series' own colour aside). */
export const PALETTE: readonly string[] = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

/** Margins around the plot, px. */
export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

type Group = d3.Selection<SVGGElement, unknown, null, undefined>;
/** A chart's SVG as d3 selects it. */
export type Svg = d3.Selection<SVGSVGElement, unknown, null, undefined>;

/** A chart without axes: its SVG, and a way to size it. */
export interface SvgFrame {
  svg: Svg;
  /** sets the SVG's size and view box, px */
  size(w: number, h: number): void;
}

/** A chart with axes: the groups, and a layout that places them for a size. */
export interface AxesFrame extends SvgFrame {
  plot: Group;
  gx: Group;
  gy: Group;
  /**
   * Sizes the SVG (px) and places the plot, the axes and the x-axis title by the
   * margins; returns the plot's size, px (at least 10 × 10).
   */
  layout(w: number, h: number): { innerW: number; innerH: number };
}

/** The refs a chart's JSX binds, and its container's width (px, 0 until measured). */
export interface Chart {
  width: Accessor<number>;
  container: (el: HTMLDivElement) => void;
  svg: (el: SVGSVGElement) => void;
}

/**
 * Sets up a chart; call in the component's body and bind `container` and
 * `svg` as refs. `setup` runs once both are in the page (draw with an effect
 * on `width()` and the data there).
 * @example
 * const chart = createChart({ margin: MARGIN, xLabel: 'tokens' }, (f) => createEffect(() => { const { innerW } = f.layout(chart.width(), 160); … }));
 * return <div ref={chart.container}><svg ref={chart.svg} /></div>;
 */
export function createChart(o: { margin: Margin; xLabel?: string; yLabel?: string }, setup: (f: AxesFrame) => void): Chart;
export function createChart(o: { margin?: undefined }, setup: (f: SvgFrame) => void): Chart;
export function createChart(o: { margin?: Margin; xLabel?: string; yLabel?: string }, setup: ((f: AxesFrame) => void) | ((f: SvgFrame) => void)): Chart {
  const [width, setWidth] = createSignal(0);
  let containerEl!: HTMLDivElement;
  let svgEl!: SVGSVGElement;
  onMount(() => {
    const ro = new ResizeObserver((entries) => setWidth(Math.floor(entries[0]!.contentRect.width)));
    ro.observe(containerEl);
    onCleanup(() => ro.disconnect());
    const svg = d3.select(svgEl);
    const size = (w: number, h: number) => void svg.attr('width', w).attr('height', h).attr('viewBox', `0 0 ${w} ${h}`);
    const m = o.margin;
    if (!m) return (setup as (f: SvgFrame) => void)({ svg, size });
    // the axes (and the y axis's grid lines) first, so that the data is drawn over them
    const gy = svg.append('g').attr('class', 'axis axis-y');
    const gx = svg.append('g').attr('class', 'axis axis-x');
    const plot = svg.append('g').attr('class', 'plot');
    const label = o.xLabel === undefined ? undefined : svg.append('text').attr('class', 'axis-label').attr('text-anchor', 'middle').text(o.xLabel);
    const yLabel = o.yLabel === undefined ? undefined : svg.append('text').attr('class', 'axis-label').attr('text-anchor', 'middle').text(o.yLabel);
    const layout = (w: number, h: number) => {
      const innerW = Math.max(10, w - m.left - m.right);
      const innerH = Math.max(10, h - m.top - m.bottom);
      size(w, h);
      plot.attr('transform', `translate(${m.left},${m.top})`);
      gx.attr('transform', `translate(${m.left},${m.top + innerH})`);
      gy.attr('transform', `translate(${m.left},${m.top})`);
      label?.attr('x', m.left + innerW / 2).attr('y', h - 4);
      yLabel?.attr('transform', `translate(11,${m.top + innerH / 2}) rotate(-90)`);
      return { innerW, innerH };
    };
    (setup as (f: AxesFrame) => void)({ svg, size, plot, gx, gy, layout });
  });
  return {
    width,
    container: (el) => (containerEl = el),
    svg: (el) => (svgEl = el),
  };
}

/** A y axis of counts: four ticks, grid lines across the plot (`innerW` px), whole numbers with separators. */
export function countAxis(y: d3.AxisScale<d3.NumberValue>, innerW: number): d3.Axis<d3.NumberValue> {
  return d3
    .axisLeft(y)
    .ticks(4)
    .tickFormat((v) => formatInt(Number(v)))
    .tickSize(-innerW);
}
