import { A } from '@solidjs/router';
import { createSignal, For, Show } from 'solid-js';
import { configLabel } from '../../data/training-view.ts';
import { createTrainingsStore } from '../../data/trainings.ts';

/**
 * The trainings to tick for a comparison (newest first, from the Training
 * page's store), with the Compare button: enabled from two ticked.
 */
export function RunPicker(props: { selected: readonly string[]; onCompare: (ids: string[]) => void }) {
  const store = createTrainingsStore();
  const [ticked, setTicked] = createSignal<readonly string[]>(props.selected);
  const tick = (id: string, on: boolean) => setTicked((t) => (on ? [...t.filter((x) => x !== id), id] : t.filter((x) => x !== id)));
  // ticked ids of trainings listed, and any of the address the list does not have (so they are not dropped unseen)
  const chosen = () => ticked().filter((id) => store.runs().some((r) => r.id === id) || props.selected.includes(id));
  return (
    <div class="run-picker" data-testid="run-picker">
      <Show when={store.error()}>
        {(err) => (
          <div class="error" role="alert">
            <b>Could not load the trainings:</b> {err().message} <button onClick={() => void store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <Show when={!store.loading() || store.runs().length > 0} fallback={<p class="muted">Loading the trainings…</p>}>
        <Show
          when={store.runs().length > 0}
          fallback={
            <p class="muted" data-testid="picker-empty">
              No trainings yet: start some on the <A href="/training">Training</A> page.
            </p>
          }
        >
          <div class="table-scroll" tabIndex={0} role="region" aria-label="trainings to compare">
            <table class="compare-table picker-table">
              <thead>
                <tr>
                  <th scope="col">
                    <span class="visually-hidden">compare</span>
                  </th>
                  <th scope="col">training</th>
                  <th scope="col">model · dataset</th>
                  <th scope="col">settings</th>
                  <th scope="col">status</th>
                </tr>
              </thead>
              <tbody>
                <For each={store.runs()}>
                  {(r) => (
                    <tr data-testid={`pick-${r.id}`}>
                      <td>
                        <input type="checkbox" checked={ticked().includes(r.id)} onChange={(e) => tick(r.id, e.currentTarget.checked)} aria-label={`compare ${r.name}`} data-testid="pick-tick" />
                      </td>
                      <td class="name">{r.name}</td>
                      <td class="muted">
                        {r.modelName ?? 'deleted model'} · {r.datasetName ?? 'deleted dataset'}
                      </td>
                      <td class="muted">{configLabel(r.config)}</td>
                      <td>
                        <span class={`status status-${r.status}`}>{r.status}</span>
                      </td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </div>
        </Show>
      </Show>
      <div class="compare-bar">
        <button type="button" class="primary" disabled={chosen().length < 2} onClick={() => props.onCompare([...chosen()])} data-testid="picker-compare">
          Compare ({chosen().length})
        </button>
        <span class="muted">{chosen().length < 2 ? 'Tick two trainings or more.' : ''}</span>
      </div>
    </div>
  );
}
