import { A } from '@solidjs/router';
import { For, Show } from 'solid-js';
import { correlationsSchema } from '../../../../models/contracts/features.ts';
import { formatInt } from '../../../data/dataset-view.ts';
import { createAnalysis } from '../../../data/features.ts';
import { AnalysisBody, computedNote } from './AnalysisBody.tsx';

/** The features whose activations correlate most with this one's, each linking to its page (the list's view kept in `list`). */
export function CorrelationsPanel(props: { saeId: string; id: string; list: string }) {
  const state = createAnalysis(() => `/api/features/${props.id}/correlations?k=8`, correlationsSchema);
  const Row = (p: { feature: number; r: number; label: string | null }) => (
    <li data-testid="correlation">
      <A href={`/features/${props.saeId}/${p.feature}${props.list}`} data-testid="correlation-link">
        #{p.feature}
      </A>
      <span class="corr-label">{p.label ?? '—'}</span>
      <span class="corr-bar" classList={{ neg: p.r < 0 }}>
        <i style={{ width: `${Math.min(100, Math.abs(p.r) * 100)}%` }} />
      </span>
      <span class="num corr-r">{p.r.toFixed(2)}</span>
    </li>
  );
  return (
    <section class="card" data-testid="correlations">
      <div class="chart-head">
        <h3 class="card-title">Correlated features</h3>
        <Show when={state.data()}>{(d) => <span class="muted small" data-testid="computed-note">{computedNote(d())}</span>}</Show>
      </div>
      <AnalysisBody state={state} what="correlations">
        {(d) => (
          <>
            <p class="muted small explain">Pearson correlation of activations over {formatInt(d.rows)} stored activation rows.</p>
            <div class="corr-columns">
              <div>
                <h4 class="lens-head pos">most positive</h4>
                <ul class="corr-list">
                  <For each={d.positive} fallback={<li class="muted">none</li>}>
                    {(c) => <Row {...c} />}
                  </For>
                </ul>
              </div>
              <div>
                <h4 class="lens-head neg">most negative</h4>
                <ul class="corr-list">
                  <For each={d.negative} fallback={<li class="muted">none</li>}>
                    {(c) => <Row {...c} />}
                  </For>
                </ul>
              </div>
            </div>
          </>
        )}
      </AnalysisBody>
    </section>
  );
}
