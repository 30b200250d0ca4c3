/**
 * Logit-lens tokens as d3 horizontal bars: one row per token (its text with
 * visible whitespace, a bar as long as its value's magnitude against `max`,
 * the value), positive values in blue growing right, negative in red. Fits
 * its container's width; a redraw only moves rows and bars.
 */
import * as d3 from 'd3';
import { createEffect } from 'solid-js';
import { formatValue, quoteToken, tokenPieces } from '../data/feature-view.ts';
import { createChart } from './chart.ts';

export interface LogitRow {
  token: number;
  text: string;
  value: number;
}

const ROW = 19;
const LABEL_W = 120;
const VALUE_W = 56;

const shown = (text: string) => tokenPieces(text).map((p) => p.text).join('');

export function LogitBars(props: { rows: LogitRow[]; /** the magnitude of a full bar */ max: number; tone: 'pos' | 'neg'; testId?: string }) {
  const chart = createChart({}, ({ svg, size }) => {
    createEffect(() => {
      const w = chart.width();
      const rows = props.rows;
      if (w <= 0) return;
      const h = Math.max(ROW, rows.length * ROW);
      const barW = Math.max(20, w - LABEL_W - VALUE_W);
      size(w, h);
      const x = d3
        .scaleLinear()
        .domain([0, props.max > 0 ? props.max : 1])
        .range([0, barW]);
      const g = svg
        .selectAll<SVGGElement, LogitRow>('g.lens-row')
        .data(rows, (r) => String(r.token))
        .join((enter) => {
          const row = enter.append('g').attr('class', 'lens-row').attr('data-testid', 'lens-row');
          row.append('title');
          row.append('text').attr('class', 'lens-token').attr('text-anchor', 'end').attr('dy', '0.32em');
          row.append('rect').attr('class', 'lens-bar').attr('height', ROW - 5);
          row.append('text').attr('class', 'lens-value').attr('dy', '0.32em');
          return row;
        })
        .attr('transform', (_r, i) => `translate(0,${i * ROW})`)
        .attr('data-token', (r) => r.text)
        .attr('data-value', (r) => r.value);
      g.select('title').text((r) => `${quoteToken(r.text)} · id ${r.token} · ${r.value}`);
      g.select<SVGTextElement>('text.lens-token')
        .attr('x', LABEL_W - 6)
        .attr('y', ROW / 2)
        .text((r) => {
          const s = shown(r.text);
          return s.length > 16 ? `${s.slice(0, 15)}…` : s;
        });
      g.select<SVGRectElement>('rect.lens-bar')
        .attr('class', `lens-bar lens-${props.tone}`)
        .attr('x', LABEL_W)
        .attr('y', 2.5)
        .attr('width', (r) => Math.max(1, x(Math.min(Math.abs(r.value), props.max || Math.abs(r.value)))));
      g.select<SVGTextElement>('text.lens-value')
        .attr('x', (r) => LABEL_W + Math.max(1, x(Math.min(Math.abs(r.value), props.max || Math.abs(r.value)))) + 4)
        .attr('y', ROW / 2)
        .text((r) => formatValue(r.value));
    });
  });

  return (
    <div class="logit-bars" ref={chart.container} data-testid={props.testId}>
      <svg ref={chart.svg} class="chart-svg" role="img" aria-label={props.tone === 'pos' ? 'Tokens the feature promotes' : 'Tokens the feature suppresses'} />
    </div>
  );
}
