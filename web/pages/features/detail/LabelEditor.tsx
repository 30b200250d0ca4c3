import { createSignal, Show } from 'solid-js';
import { FEATURE_LIMITS, type FeatureDetail } from '../../../../models/contracts/features.ts';
import { errorMessage } from '../../../api.ts';
import { editableLabel, labelSourceText } from '../../../data/feature-view.ts';
import { patchFeature, relabelFeature } from '../../../data/features.ts';

/** The label, edited in place; `llm`: whether an LLM endpoint is set up (then a new label can be asked for). */
export function LabelEditor(props: { feature: FeatureDetail; llm: boolean; onSaved: (f: Partial<FeatureDetail>) => void }) {
  const [editing, setEditing] = createSignal(false);
  const [text, setText] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  let input: HTMLInputElement | undefined;
  const begin = () => {
    setText(editableLabel(props.feature.label, props.feature.labelSource));
    setError(undefined);
    setEditing(true);
    queueMicrotask(() => input?.select());
  };
  const save = async (label: string | null) => {
    setBusy(true);
    setError(undefined);
    try {
      const after = await patchFeature(props.feature.id, { label });
      props.onSaved(after ?? { label, labelSource: label === null ? 'heuristic' : 'user' });
      setEditing(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const relabel = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const after = await relabelFeature(props.feature.id);
      if (after) props.onSaved(after);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      const t = text().trim();
      void save(t === '' ? null : t);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      setEditing(false);
      setError(undefined);
    }
  };
  return (
    <div class="label-editor">
      <Show
        when={editing()}
        fallback={
          <h2 class="feature-title">
            <button type="button" class="label-text" onClick={begin} title="click to edit the label" data-testid="feature-label">
              {props.feature.label ?? '(no label)'}
            </button>
            <span class={`badge source-${props.feature.labelSource ?? 'none'}`} data-testid="label-source" title="where the label comes from">
              {labelSourceText(props.feature.labelSource)}
            </span>
            <button type="button" class="icon-button" onClick={begin} title="edit the label" data-testid="label-edit">
              ✎
            </button>
          </h2>
        }
      >
        <div class="label-input-row">
          <input
            ref={input}
            class="label-input"
            value={text()}
            maxLength={FEATURE_LIMITS.MAX_LABEL}
            disabled={busy()}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={onKey}
            placeholder="a short description; empty goes back to the heuristic label"
            aria-label="label"
            data-testid="label-input"
          />
          <span class="muted hint-inline">Enter saves · Escape cancels</span>
        </div>
      </Show>
      <div class="label-meta muted">
        <Show when={props.feature.labelSource !== 'heuristic'}>
          <span>
            heuristic: <span data-testid="heuristic-label">{props.feature.heuristic.label}</span>
          </span>
        </Show>
        <Show when={props.feature.labelSource === 'user'}>
          <button type="button" class="link-button" disabled={busy()} onClick={() => void save(null)} data-testid="label-reset">
            use the heuristic label
          </button>
        </Show>
        <Show when={props.llm}>
          <button type="button" class="link-button" disabled={busy()} onClick={() => void relabel()} title="ask the LLM endpoint of the Settings for a label now" data-testid="label-llm">
            label with the LLM
          </button>
        </Show>
      </div>
      <Show when={error()}>
        <p class="field-error" role="alert" data-testid="label-error">
          {error()}
        </p>
      </Show>
    </div>
  );
}
