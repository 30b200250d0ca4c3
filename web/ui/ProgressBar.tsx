/** A horizontal progress bar with an accessible value (0–100 %). */
export function ProgressBar(props: { value: number; label?: string; testId?: string; tone?: 'normal' | 'bad' | 'muted' }) {
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
