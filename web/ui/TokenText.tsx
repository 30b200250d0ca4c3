/**
 * A document shown token by token: each token a span on an alternating
 * background, so the boundaries show, with its whitespace made visible
 * (`·` for a space, `↵` before a line break) and its id and position in a
 * tooltip. Special tokens (BOS, EOS) are marked.
 */
import { For } from 'solid-js';
import { visibleToken } from '../data/dataset-view.ts';

export function TokenText(props: { ids: number[]; strings: string[]; special?: (id: number) => boolean }) {
  return (
    <div class="token-text" data-testid="token-text">
      <For each={props.strings}>
        {(s, i) => {
          const id = () => props.ids[i()]!;
          return (
            <span
              class={`tok ${i() % 2 ? 'tok-b' : 'tok-a'}${props.special?.(id()) ? ' tok-special' : ''}`}
              title={`token ${i()} · id ${id()} · ${JSON.stringify(s)}`}
              data-testid="token"
              data-id={id()}
            >
              {visibleToken(s)}
            </span>
          );
        }}
      </For>
    </div>
  );
}
