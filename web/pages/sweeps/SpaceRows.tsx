import { For, Index, Show } from 'solid-js';
import type { SweepMethod } from '../../../models/sweep/propose.ts';
import { SPACE_LIMITS } from '../../../models/sweep/space.ts';
import { newSpaceRow, rowTypesOf, sweepableSetting, sweepErrorFor, SWEEPABLE, type SpaceRow } from '../../data/sweep-view.ts';
import { FieldError } from '../../ui/FieldError.tsx';

const TYPE_LABEL: Record<SpaceRow['type'], string> = { float: 'float range', int: 'int range', choice: 'choices' };

/**
 * The search space of the new-sweep form: a row per setting swept (its
 * type, then a range's min, max, log scale and grid points, or the choices),
 * each message beside its field, as the form's checks and the server name
 * them (`space.k.max`). Rows are kept by position, so that typing in one
 * does not re-create its inputs.
 */
export function SpaceRows(props: { rows: SpaceRow[]; method: SweepMethod; errors: Record<string, string>; onChange: (rows: SpaceRow[]) => void }) {
  const update = (i: number, patch: Partial<SpaceRow>) => props.onChange(props.rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const remove = (i: number) => props.onChange(props.rows.filter((_, j) => j !== i));
  /** a new setting: its usual range or every value; a range kept when the kind allows it */
  const setKey = (i: number, key: string) => update(i, newSpaceRow(key));
  const used = () => new Set(props.rows.map((r) => r.key));
  return (
    <div class="space-rows" data-testid="space-rows">
      <FieldError errors={props.errors} field="space" />
      <Index each={props.rows}>
        {(row, i) => {
          const at = () => `space.${row().key}`;
          const choices = () => sweepableSetting(row().key)?.options;
          return (
            <div class="space-row" data-testid="space-row" data-key={row().key}>
              <label class="field">
                <span>Setting</span>
                <select value={row().key} onChange={(e) => setKey(i, e.currentTarget.value)} data-testid="space-key">
                  <option value="">pick a setting…</option>
                  <For each={SWEEPABLE}>
                    {(s) => (
                      <option value={s.key} disabled={s.key !== row().key && used().has(s.key)}>
                        {s.key}
                      </option>
                    )}
                  </For>
                </select>
                <FieldError errors={props.errors} field={`rows.${i}.key`} />
                <Show when={row().key}>
                  <FieldError errors={props.errors} field={at()} />
                  <FieldError errors={props.errors} field={`${at()}.type`} />
                </Show>
              </label>
              <label class="field">
                <span>Type</span>
                <select value={row().type} onChange={(e) => update(i, { type: e.currentTarget.value as SpaceRow['type'] })} data-testid="space-type">
                  <For each={rowTypesOf(row().key)}>{(t) => <option value={t}>{TYPE_LABEL[t]}</option>}</For>
                </select>
              </label>
              <Show
                when={row().type !== 'choice'}
                fallback={
                  <label class="field space-values">
                    <span>Values (comma-separated)</span>
                    <input value={row().values} placeholder={choices() ? choices()!.map(String).join(', ') : 'e.g. 8, 16, 32'} onInput={(e) => update(i, { values: e.currentTarget.value })} data-testid="space-values" />
                    <FieldError errors={props.errors} field={`${at()}.values`} lookup={sweepErrorFor} />
                  </label>
                }
              >
                <label class="field narrow">
                  <span>Min</span>
                  <input inputmode="decimal" value={row().min} onInput={(e) => update(i, { min: e.currentTarget.value })} data-testid="space-min" />
                  <FieldError errors={props.errors} field={`${at()}.min`} />
                </label>
                <label class="field narrow">
                  <span>Max</span>
                  <input inputmode="decimal" value={row().max} onInput={(e) => update(i, { max: e.currentTarget.value })} data-testid="space-max" />
                  <FieldError errors={props.errors} field={`${at()}.max`} />
                </label>
                <div class="field check">
                  <span aria-hidden="true">Scale</span>
                  <label class="inline">
                    <input type="checkbox" checked={row().log} onChange={(e) => update(i, { log: e.currentTarget.checked })} data-testid="space-log" /> log
                  </label>
                  <FieldError errors={props.errors} field={`${at()}.log`} />
                </div>
                <Show when={props.method === 'grid'}>
                  <label class="field narrow" title="values the grid takes from the range, evenly spaced (geometrically on a log scale)">
                    <span>Grid points</span>
                    <input inputmode="numeric" value={row().points} placeholder={String(SPACE_LIMITS.DEFAULT_POINTS)} onInput={(e) => update(i, { points: e.currentTarget.value })} data-testid="space-points" />
                    <FieldError errors={props.errors} field={`${at()}.points`} />
                  </label>
                </Show>
              </Show>
              <button type="button" class="space-remove" onClick={() => remove(i)} aria-label={`remove ${row().key || 'this setting'}`} data-testid="space-remove">
                Remove
              </button>
            </div>
          );
        }}
      </Index>
      <button type="button" onClick={() => props.onChange([...props.rows, newSpaceRow()])} disabled={props.rows.length >= SPACE_LIMITS.MAX_PARAMS} data-testid="space-add">
        + Add a setting
      </button>
    </div>
  );
}
