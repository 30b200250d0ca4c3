/**
 * Logit-lens tokens as d3 horizontal bars: one row per token (its text with
 * visible whitespace, a bar as long as its value's magnitude against `max`,
 * the value), positive values in blue growing right, negative in red. Fits
 * its container's width: the token's text takes at most a third of it, so
 * that the bars keep most of the width and their lengths stay proportional
 * to the values (8.79 twice as long as 4.4) at any width. A redraw only
 * moves rows and bars.
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
/** the token's column, px: at most this, at most a third of the width */
const LABEL_MAX = 120;
const VALUE_W = 46;
/** characters of a token shown before an ellipsis, at the widest label column */
const LABEL_CHARS = 16;

const shown = (text: string) => tokenPieces(text).map((p) => p.text).join('');

export function LogitBars(props: { rows: LogitRow[]; /** the magnitude of a full bar */ max: number; tone: 'pos' | 'neg'; testId?: string }) {
  const chart = createChart({}, ({ svg, size }) => {
    createEffect(() => {
      const w = chart.width();
      const rows = props.rows;
      if (w <= 0) return;
      const h = Math.max(ROW, rows.length * ROW);
      const LABEL_W = Math.round(Math.min(LABEL_MAX, w / 3));
      const chars = Math.max(4, Math.floor((LABEL_CHARS * LABEL_W) / LABEL_MAX));
      const barW = Math.max(10, w - LABEL_W - VALUE_W);
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
          return s.length > chars ? `${s.slice(0, chars - 1)}…` : s;
        });
      g.select<SVGRectElement>('rect.lens-bar')
        .attr('class', `lens-bar lens-${props.tone}`)
        .attr('x', LABEL_W)
        .attr('y', 2.5)
        .attr('data-width', (r) => Math.max(1, x(Math.min(Math.abs(r.value), props.max || Math.abs(r.value)))))
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
