/**
 * The text as the model saw it: a strip of tokens lit by the picked
 * feature's activation (white to orange, against its largest value in the
 * text), then one row a token with its active features, largest first (the
 * first few shown, the rest a click away). Picking a feature (a chip) lights
 * the text by it; its link opens the feature's page.
 */
import { A } from '@solidjs/router';
import { For, Show } from 'solid-js';
import { formatValue, quoteToken } from '../../data/feature-view.ts';
import { featureOnTokens, type ActiveFeature } from '../../data/inspector-view.ts';
import type { InspectorResult } from '../../data/inspector.ts';
import { TokenStrip } from '../../ui/TokenStrip.tsx';

/** Features shown on a token's row before "more". */
const SHOWN = 6;

function Chip(props: { saeId: string; f: ActiveFeature; picked: number | null; onPick: (f: number) => void }) {
  return (
    <span class="feature-chip" classList={{ picked: props.picked === props.f.index }} data-testid="tok-feature" data-index={props.f.index} data-value={props.f.value}>
      <button type="button" class="chip-pick" title="Light the text by this feature" onClick={() => props.onPick(props.f.index)}>
        #{props.f.index} <span class="chip-value">{formatValue(props.f.value)}</span>
      </button>
      <A href={`/features/${props.saeId}/${props.f.index}`} class="chip-open" title={`Open feature #${props.f.index}`} data-testid="open-feature">
        ↗
      </A>
    </span>
  );
}

export function TokenTable(props: { saeId: string; result: InspectorResult; picked: number | null; onPick: (f: number) => void }) {
  const values = () => (props.picked === null ? props.result.ids.map(() => 0) : featureOnTokens(props.result.features, props.picked));
  const max = () => Math.max(0, ...values());
  return (
    <section class="card" data-testid="token-card">
      <div class="chart-head">
        <h3 class="card-title">Tokens</h3>
        <span class="muted small" data-testid="lit-by">
          <Show when={props.picked !== null} fallback="pick a feature to light the text by its activation">
            lit by feature <A href={`/features/${props.saeId}/${props.picked}`}>#{props.picked}</A> (max {formatValue(max())})
          </Show>
        </span>
      </div>
      <Show when={props.result.bos !== null}>
        <p class="muted small">A BOS token (id {props.result.bos}) runs first, as the SAE's activations were recorded; it is not shown.</p>
      </Show>
      <Show when={props.result.dropped > 0}>
        <p class="warn-note" data-testid="dropped">The last {props.result.dropped} tokens are past the model's context and were left out.</p>
      </Show>
      <TokenStrip tokens={props.result.ids.map((id, i) => ({ id, text: props.result.texts[i]!, value: values()[i]! }))} max={max()} testId="lit-text" />
      <table class="token-table" data-testid="token-table">
        <thead>
          <tr>
            <th>#</th>
            <th>token</th>
            <th>id</th>
            <th>active features (largest first)</th>
          </tr>
        </thead>
        <tbody>
          <For each={props.result.ids}>
            {(id, i) => {
              const feats = () => props.result.features[i()]!;
              return (
                <tr data-testid="token-row" data-id={id} data-count={feats().length}>
                  <td class="muted">{i()}</td>
                  <td>
                    <code>{quoteToken(props.result.texts[i()]!)}</code>
                  </td>
                  <td class="muted">{id}</td>
                  <td class="chips">
                    <For each={feats().slice(0, SHOWN)}>{(f) => <Chip saeId={props.saeId} f={f} picked={props.picked} onPick={props.onPick} />}</For>
                    <Show when={feats().length > SHOWN}>
                      <details class="more-chips">
                        <summary>+{feats().length - SHOWN} more</summary>
                        <For each={feats().slice(SHOWN)}>{(f) => <Chip saeId={props.saeId} f={f} picked={props.picked} onPick={props.onPick} />}</For>
                      </details>
                    </Show>
                    <Show when={feats().length === 0}>
                      <span class="muted small">none active</span>
                    </Show>
                  </td>
                </tr>
              );
            }}
          </For>
        </tbody>
      </table>
    </section>
  );
}
