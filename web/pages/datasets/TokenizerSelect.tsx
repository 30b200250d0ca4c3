import { For } from 'solid-js';
import type { Model } from '../../../models/contracts/api.ts';
import { FieldError } from '../../ui/FieldError.tsx';

/** The tokenizer choice: downloaded models, the default (demo) one first and preselected. */
export function TokenizerSelect(props: { models: Model[]; value: string; onChange: (id: string) => void; errors: Record<string, string>; testId: string }) {
  return (
    <label class="field">
      <span>Tokenizer (model)</span>
      <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)} data-testid={props.testId}>
        <For each={props.models} fallback={<option value="">default model</option>}>
          {(m) => <option value={m.id}>{m.name}</option>}
        </For>
      </select>
      <FieldError errors={props.errors} field="tokenizerModelId" />
    </label>
  );
}
