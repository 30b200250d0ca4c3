import { For, Show } from 'solid-js';
import type { Compare } from '../../../models/contracts/compare.ts';
import { formatSetting } from '../../data/compare-view.ts';
import { RunName, type RunStyle } from './RunName.tsx';

/** The settings that differ between the runs (a row each, a column per run), and those equal in all folded away. */
export function ConfigDiff(props: { compare: Compare; style: RunStyle }) {
  return (
    <>
      <Show
        when={props.compare.differing.length > 0}
        fallback={
          <p class="muted" data-testid="no-differences">
            {props.compare.runs.length < 2 ? 'One run: no other to differ from yet.' : 'No setting differs between these runs.'}
          </p>
        }
      >
        {/* tabIndex: on a phone the table scrolls sideways in its box, and a keyboard must reach it */}
        <div class="table-scroll" tabIndex={0} role="region" aria-label="settings that differ between the runs">
          <table class="compare-table" data-testid="config-diff">
            <thead>
              <tr>
                <th scope="col">setting</th>
                <For each={props.compare.runs}>
                  {(r) => (
                    <th scope="col">
                      <RunName run={r} style={props.style} />
                    </th>
                  )}
                </For>
              </tr>
            </thead>
            <tbody>
              <For each={props.compare.differing}>
                {(s) => (
                  <tr data-testid="diff-row" data-key={s.key}>
                    <th scope="row">
                      <code>{s.key}</code>
                    </th>
                    <For each={s.values}>{(v) => <td>{formatSetting(v)}</td>}</For>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </div>
      </Show>
      <Show when={props.compare.same.length > 0}>
        <details class="same-settings" data-testid="same-settings">
          <summary>
            {props.compare.same.length} {props.compare.same.length === 1 ? 'setting' : 'settings'} equal
          </summary>
          <dl>
            <For each={props.compare.same}>
              {(s) => (
                <div>
                  <dt>
                    <code>{s.key}</code>
                  </dt>
                  <dd>{formatSetting(s.value)}</dd>
                </div>
              )}
            </For>
          </dl>
        </details>
      </Show>
    </>
  );
}
