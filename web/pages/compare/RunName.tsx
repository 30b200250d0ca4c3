import { A } from '@solidjs/router';
import type { CompareRun } from '../../../models/contracts/compare.ts';

/** How the page shows each run: its label and colour, the same in every table and chart. */
export interface RunStyle {
  label(key: string): string;
  color(key: string): string;
}

/** The address of a run's training on the Training page (opened there, its charts shown). */
export const trainingHref = (r: Pick<CompareRun, 'trainingId'>) => `/training?run=${encodeURIComponent(r.trainingId)}`;

/** A run's swatch and name, linked to its training. */
export function RunName(props: { run: CompareRun; style: RunStyle }) {
  return (
    <span class="run-name">
      <i class="swatch" style={{ background: props.style.color(props.run.key) }} aria-hidden="true" />
      <A href={trainingHref(props.run)} data-testid="run-link">
        {props.style.label(props.run.key)}
      </A>
    </span>
  );
}
