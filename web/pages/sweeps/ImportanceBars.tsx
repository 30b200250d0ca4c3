import { createMemo, For, Show } from 'solid-js';
import { importanceRows } from '../../data/sweep-view.ts';

/**
 * Each parameter's importance (the share of the completed trials' score
 * variance its value explains, from the API), as horizontal bars, the most
 * important first; a note while there is nothing to tell yet.
 */
export function ImportanceBars(props: { importance: Record<string, number>; keys: string[]; completed: number }) {
  const rows = createMemo(() => importanceRows(props.importance, props.keys));
  const known = () => rows().some((r) => r.value > 0);
  return (
    <div class="importance" data-testid="importance">
      <Show
        when={known()}
        fallback={
          <p class="muted importance-note" data-testid="importance-note">
            {props.completed < 3 ? `Shown once 3 trials have completed (${props.completed} so far).` : 'The completed trials score alike: no setting stands out yet.'}
          </p>
        }
      >
        <ul class="importance-list" aria-label="importance of each setting">
          <For each={rows()}>
            {(r) => (
              <li data-testid="importance-row" data-key={r.key} data-value={r.value}>
                <code class="importance-key">{r.key}</code>
                <span class="importance-track" aria-hidden="true">
                  <span class="importance-bar" style={{ width: `${(r.value * 100).toFixed(1)}%` }} />
                </span>
                <span class="importance-value">{(r.value * 100).toFixed(0)} %</span>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </div>
  );
}
