/** A token as a small chip (its whitespace visible, how many examples peak on it), clickable when given `onClick`. */
import { Show } from 'solid-js';
import { quoteToken, tokenPieces } from '../data/feature-view.ts';

export function TokenChip(props: { text: string; count?: number; onClick?: () => void; title?: string }) {
  const body = () => tokenPieces(props.text).map((p) => p.text).join('');
  return (
    <button type="button" class="token-chip" onClick={() => props.onClick?.()} title={props.title ?? `peak token ${quoteToken(props.text)}`} data-testid="token-chip" data-token={props.text} disabled={!props.onClick}>
      <code>{body()}</code>
      <Show when={props.count !== undefined}>
        <span class="chip-count">×{props.count}</span>
      </Show>
    </button>
  );
}

