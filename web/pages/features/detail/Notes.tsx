import { createEffect, createSignal, on, Show } from 'solid-js';
import { FEATURE_LIMITS, type FeatureDetail } from '../../../../models/contracts/features.ts';
import { errorMessage } from '../../../api.ts';
import { patchFeature } from '../../../data/features.ts';

/** Notes, saved when the field loses focus. */
export function Notes(props: { feature: FeatureDetail; onSaved: (notes: string | null) => void }) {
  const [text, setText] = createSignal(props.feature.notes ?? '');
  const [state, setState] = createSignal<{ kind: 'saving' | 'saved' | 'error'; text?: string }>();
  createEffect(on(() => props.feature.id, () => setText(props.feature.notes ?? '')));
  const save = async () => {
    const notes = text().trim() === '' ? null : text();
    if (notes === (props.feature.notes ?? null)) return;
    setState({ kind: 'saving' });
    try {
      await patchFeature(props.feature.id, { notes });
      props.onSaved(notes);
      setState({ kind: 'saved' });
    } catch (err) {
      setState({ kind: 'error', text: errorMessage(err) });
    }
  };
  return (
    <section class="card notes-card">
      <div class="chart-head">
        <h3 class="card-title">Notes</h3>
        <span class="muted notes-state" data-testid="notes-state">
          {state()?.kind === 'saving' ? 'saving…' : state()?.kind === 'saved' ? 'saved' : ''}
        </span>
      </div>
      <textarea class="notes" rows={3} maxLength={FEATURE_LIMITS.MAX_NOTES} placeholder="What you found; saved when you leave the field." value={text()} onInput={(e) => setText(e.currentTarget.value)} onBlur={() => void save()} data-testid="feature-notes" />
      <Show when={state()?.kind === 'error'}>
        <p class="field-error" role="alert">
          Not saved: {state()!.text}
        </p>
      </Show>
    </section>
  );
}
