import { For, Show } from 'solid-js';
import { LENS_NORMS, logitLensSchema, type LensNorm } from '../../../../models/contracts/features.ts';
import { createAnalysis } from '../../../data/features.ts';
import { LogitBars } from '../../../ui/LogitBars.tsx';
import { AnalysisBody, computedNote } from './AnalysisBody.tsx';

/** Logit-lens tokens shown on each side. */
const LENS_K = 12;

/** What each lens convention computes, as the panel says it. */
const LENS_EXPLAIN: Record<LensNorm, { button: string; text: string }> = {
  weight: { button: 'weighted', text: "W_dec[f], centred for a LayerNorm model, times the final norm's gain γ, times W_U" },
  none: { button: 'raw', text: 'W_dec[f] · W_U exactly' },
};

/** The tokens the feature's direction promotes and suppresses, in the convention `norm`. */
export function LogitLensPanel(props: { id: string; norm: LensNorm; onNorm: (n: LensNorm) => void }) {
  const state = createAnalysis(() => `/api/features/${props.id}/logit-lens?k=${LENS_K}&norm=${props.norm}`, logitLensSchema);
  return (
    <section class="card" data-testid="logit-lens">
      <div class="chart-head">
        <h3 class="card-title">Logit lens</h3>
        <Show when={state.data()}>{(d) => <span class="muted small" data-testid="computed-note">{computedNote(d())}</span>}</Show>
        <div class="segmented" role="group" aria-label="Logit lens convention" data-testid="lens-norm">
          <For each={LENS_NORMS}>
            {(n) => (
              <button type="button" classList={{ active: props.norm === n }} aria-pressed={props.norm === n} title={LENS_EXPLAIN[n].text} onClick={() => props.onNorm(n)}>
                {LENS_EXPLAIN[n].button}
              </button>
            )}
          </For>
        </div>
      </div>
      <p class="muted small explain" data-testid="lens-convention">
        The next tokens this feature promotes and suppresses: {LENS_EXPLAIN[props.norm].text}. No bias is added (the final norm's would give every feature the same tokens) and the direction is not normalised.
      </p>
      <AnalysisBody state={state} what="logit lens">
        {(d) => {
          const max = Math.max(1e-9, ...d.top.map((r) => Math.abs(r.value)), ...d.bottom.map((r) => Math.abs(r.value)));
          return (
            <div class="lens-columns">
              <div>
                <h4 class="lens-head pos">promoted</h4>
                <LogitBars rows={d.top} max={max} tone="pos" testId="lens-top" />
              </div>
              <div>
                <h4 class="lens-head neg">suppressed</h4>
                <LogitBars rows={d.bottom} max={max} tone="neg" testId="lens-bottom" />
              </div>
            </div>
          );
        }}
      </AnalysisBody>
    </section>
  );
}
