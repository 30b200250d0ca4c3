import { For } from 'solid-js';
import type { Architecture } from '../../../models/contracts/api.ts';
import { extractableHooks, rowLabel } from '../../data/extraction-view.ts';

/** The hook picker: the model's per-token hook points, grouped by block. */
export function HookPicker(props: { arch: Architecture; selected: string[]; onChange: (hooks: string[]) => void }) {
  const toggle = (name: string, on: boolean) => props.onChange(on ? [...props.selected, name] : props.selected.filter((h) => h !== name));
  return (
    <ol class="hook-picker" data-testid="hook-picker">
      <For each={extractableHooks(props.arch)}>
        {(g) => (
          <li class="hook-group" data-testid={`hooks-${g.key}`}>
            <h4>{g.title}</h4>
            <For each={g.hooks}>
              {(h) => (
                <label class="hook-option" title={`${h.name} ${rowLabel(h.shape)}`}>
                  <input type="checkbox" checked={props.selected.includes(h.name)} onChange={(e) => toggle(h.name, e.currentTarget.checked)} data-testid={`hook-${h.name}`} />
                  <code>{h.layer === null ? h.name : h.name.replace(`blocks.${h.layer}.`, '')}</code>
                  <span class="muted">{rowLabel(h.shape)}</span>
                </label>
              )}
            </For>
          </li>
        )}
      </For>
    </ol>
  );
}
