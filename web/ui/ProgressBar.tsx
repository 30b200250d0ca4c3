import type { JSX } from 'solid-js';

/** The colour of a bar: normal, bad (failed) or muted (cancelled, paused, not measurable). */
export type ProgressTone = 'normal' | 'bad' | 'muted';

/** A horizontal progress bar with an accessible value (0–100 %). */
export function ProgressBar(props: { value: number; label?: string; testId?: string; tone?: ProgressTone }) {
  const pct = () => Math.max(0, Math.min(100, props.value));
  return (
    <div
      class={`progress progress-${props.tone ?? 'normal'}`}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct() * 10) / 10}
      aria-label={props.label}
      data-testid={props.testId}
      data-value={pct()}
    >
      <div class="progress-fill" style={{ width: `${pct()}%` }} />
    </div>
  );
}

/** A progress bar on a line with its text (`children`), and what goes before or after them (a phase, a Stop button). */
export function ProgressLine(props: { value: number; label?: string; testId?: string; tone?: ProgressTone; textTestId?: string; class?: string; before?: JSX.Element; after?: JSX.Element; children: JSX.Element }) {
  return (
    <div class={props.class ? `progress-line ${props.class}` : 'progress-line'}>
      {props.before}
      <ProgressBar value={props.value} label={props.label} testId={props.testId} tone={props.tone} />
      <span class="progress-text" data-testid={props.textTestId}>
        {props.children}
      </span>
      {props.after}
    </div>
  );
}
