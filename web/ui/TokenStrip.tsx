/**
 * One context as a strip of tokens, each on a background whose opacity is
 * its value relative to `max` (a feature's activation against the feature's
 * strongest), whitespace shown as glyphs (`·` space, `↵` line break, `→`
 * tab) so that nothing is invisible and the strip stays one line, the peak
 * token outlined, and a tooltip per token with its text, id and value.
 */
import { createSignal, For, Show } from 'solid-js';
import { formatValue, highlightColor, intensity, quoteToken, tokenPieces } from '../data/feature-view.ts';

export interface StripToken {
  id: number;
  text: string;
  value: number;
}

export interface TokenStripProps {
  tokens: StripToken[];
  /** the value drawn at full intensity */
  max: number;
  /** index in `tokens` of the token to outline */
  peak?: number;
  /** background of a value (default: the activation orange at its intensity) */
  color?: (value: number) => string;
  /** what the tooltip calls the value */
  valueLabel?: string;
  testId?: string;
}

export function TokenStrip(props: TokenStripProps) {
  const [tip, setTip] = createSignal<{ i: number; left: number; top: number }>();
  const color = (v: number) => (props.color ? props.color(v) : highlightColor(intensity(v, props.max)));
  const show = (i: number, el: HTMLElement) => {
    const r = el.getBoundingClientRect();
    setTip({ i, left: Math.max(4, Math.min(r.left, window.innerWidth - 230)), top: r.bottom + 6 });
  };
  return (
    <div class="token-strip" data-testid={props.testId ?? 'token-strip'} onMouseLeave={() => setTip(undefined)}>
      <For each={props.tokens}>
        {(t, i) => (
          <span
            class="act-tok"
            classList={{ peak: i() === props.peak }}
            style={{ 'background-color': color(t.value) }}
            data-testid="act-token"
            data-id={t.id}
            data-value={t.value}
            data-peak={i() === props.peak ? 'true' : undefined}
            tabIndex={-1}
            onMouseEnter={(e) => show(i(), e.currentTarget)}
            onFocus={(e) => show(i(), e.currentTarget)}
            onBlur={() => setTip(undefined)}
          >
            <For each={tokenPieces(t.text)}>{(p) => (p.ws ? <span class="ws">{p.text}</span> : p.text)}</For>
          </span>
        )}
      </For>
      <Show when={tip()}>
        {(tp) => {
          const t = () => props.tokens[tp().i];
          return (
            <Show when={t()}>
              {(tok) => (
                <div class="token-tip" role="tooltip" data-testid="token-tip" style={{ left: `${tp().left}px`, top: `${tp().top}px` }}>
                  <div>
                    <code>{quoteToken(tok().text)}</code>
                    <Show when={tp().i === props.peak}>
                      <span class="tip-peak">peak</span>
                    </Show>
                  </div>
                  <div class="tip-row">
                    token id <b>{tok().id}</b>
                  </div>
                  <div class="tip-row">
                    {props.valueLabel ?? 'activation'} <b data-testid="token-tip-value">{formatValue(tok().value)}</b>
                    <Show when={!props.color && props.max > 0}>
                      <span class="muted-tip"> ({Math.round(intensity(tok().value, props.max) * 100)} % of max)</span>
                    </Show>
                  </div>
                </div>
              )}
            </Show>
          );
        }}
      </Show>
    </div>
  );
}
