/**
 * The inspector's decoder searches, run in the browser (WebGPU, or the CPU):
 * the features of this text ranked by their largest activation on it, and
 * the features whose decoder direction most raises or lowers a typed token's
 * logit (the logit lens's convention: centred for a LayerNorm model, times
 * the final norm's gain, or raw). Each result picks the feature (lighting the
 * text) or opens its page; each search says how long it took.
 */
import { A } from '@solidjs/router';
import { createEffect, createSignal, For, on, Show } from 'solid-js';
import type { Scored } from '../../../models/sae/gpu/search.ts';
import type { Tokenizer } from '../../../models/tokenizer-core.ts';
import { errorMessage } from '../../api.ts';
import { formatValue, quoteToken } from '../../data/feature-view.ts';
import { formatMs } from '../../data/inspector-view.ts';
import { loadTokenColumn, searches, timed, type InspectorResult } from '../../data/inspector.ts';
import type { LoadedDecoder } from '../../engine/decoder.ts';

/** A ranked list of features: pick one (light the text) or open its page. */
export function ScoredList(props: { saeId: string; rows: (Scored & { note?: string })[]; picked?: number | null; onPick?: (f: number) => void; testId: string }) {
  return (
    <ol class="scored-list" data-testid={props.testId}>
      <For each={props.rows}>
        {(r) => (
          <li data-testid="search-row" data-index={r.index} data-value={r.value} classList={{ picked: props.picked === r.index }}>
            <Show when={props.onPick} fallback={<A href={`/features/${props.saeId}/${r.index}`}>#{r.index}</A>}>
              <button type="button" class="link-button" onClick={() => props.onPick!(r.index)} title="Light the text by this feature">
                #{r.index}
              </button>
            </Show>
            <span class="scored-value">{formatValue(r.value)}</span>
            <Show when={r.note}>
              <span class="muted small">{r.note}</span>
            </Show>
            <Show when={props.onPick}>
              <A href={`/features/${props.saeId}/${r.index}`} class="chip-open" title={`Open feature #${r.index}`}>
                ↗
              </A>
            </Show>
          </li>
        )}
      </For>
    </ol>
  );
}

/** The features of the inspector's text, by their largest activation over it. */
export function TextFeaturesPanel(props: { saeId: string; decoder: LoadedDecoder | undefined; result: InspectorResult | undefined; picked: number | null; onPick: (f: number) => void }) {
  const [rows, setRows] = createSignal<(Scored & { note: string })[]>();
  const [ms, setMs] = createSignal<number>();
  const [error, setError] = createSignal<string>();
  createEffect(
    on([() => props.decoder, () => props.result], ([d, r]) => {
      if (!d || !r) return;
      timed(() => searches.inText(d, r)).then(
        ({ value, ms }) => {
          if (props.result !== r) return;
          setRows(value.map((x) => ({ ...x, note: `at ${quoteToken(r.texts[x.token] ?? '')}` })));
          setMs(ms);
          setError(undefined);
        },
        (err) => setError(errorMessage(err)),
      );
    }),
  );
  return (
    <section class="card" data-testid="text-features">
      <div class="chart-head">
        <h3 class="card-title">Features in this text</h3>
        <Show when={ms() !== undefined}>
          <span class="muted small" data-testid="search-ms">
            {formatMs(ms()!)}
          </span>
        </Show>
      </div>
      <p class="muted small explain">The SAE's features ranked by their largest activation over the text, with the token where each peaks.</p>
      <Show when={error()}>{(e) => <div class="error">{e()}</div>}</Show>
      <Show when={rows()} fallback={<p class="muted small">{props.decoder ? 'Waiting for a run…' : 'Loading the decoder…'}</p>}>
        {(r) => <ScoredList saeId={props.saeId} rows={r()} picked={props.picked} onPick={props.onPick} testId="text-features-list" />}
      </Show>
    </section>
  );
}

/** The features whose direction most raises or lowers a token's logit. */
export function TokenEffectPanel(props: { saeId: string; decoder: LoadedDecoder | undefined; tokenizer: Tokenizer | undefined; initial?: string; onPick: (f: number) => void; picked: number | null }) {
  const [typed, setTyped] = createSignal(props.initial ?? ' the');
  const [convention, setConvention] = createSignal<'weight' | 'none'>('weight');
  const [result, setResult] = createSignal<{ token: number; raises: Scored[]; lowers: Scored[]; ms: number }>();
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);

  /** the token typed: `#123` is an id, else the text must be one token of the model's tokenizer */
  const tokenOf = (text: string): number => {
    const id = /^#(\d+)$/.exec(text.trim());
    if (id) return Number(id[1]);
    if (!props.tokenizer) throw new Error('the tokenizer is not loaded: type a token id as #123');
    const ids = Array.from(props.tokenizer.encode(text, { addBos: false }));
    if (ids.length !== 1) throw new Error(`${quoteToken(text)} is ${ids.length} tokens (${ids.join(', ')}); type one token, or its id as #123`);
    return ids[0]!;
  };
  const run = async () => {
    const d = props.decoder;
    if (!d) return;
    setBusy(true);
    setError(undefined);
    try {
      const token = tokenOf(typed());
      const column = await loadTokenColumn(props.saeId, token);
      const { value, ms } = await timed(() => searches.byToken(d, column, convention()));
      setResult({ token, ...value, ms });
    } catch (err) {
      setError(errorMessage(err));
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  };
  createEffect(on([() => props.decoder, () => props.tokenizer, convention], () => void run()));
  return (
    <section class="card" data-testid="token-effect">
      <div class="chart-head">
        <h3 class="card-title">Features by token effect</h3>
        <Show when={result()}>
          <span class="muted small" data-testid="search-ms">
            {formatMs(result()!.ms)}
          </span>
        </Show>
      </div>
      <form
        class="token-effect-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <input value={typed()} onInput={(e) => setTyped(e.currentTarget.value)} aria-label="Token" placeholder="a token, or #id" data-testid="effect-token" />
        <button type="submit" disabled={busy() || !props.decoder}>
          Search
        </button>
        <div class="segmented" role="group" aria-label="Convention" data-testid="effect-convention">
          <button type="button" classList={{ active: convention() === 'weight' }} onClick={() => setConvention('weight')} title="W_dec[f], centred for a LayerNorm model, times the final norm's gain γ, times W_U[:, t]">
            weighted
          </button>
          <button type="button" classList={{ active: convention() === 'none' }} onClick={() => setConvention('none')} title="W_dec[f] · W_U[:, t] exactly">
            raw
          </button>
        </div>
      </form>
      <Show when={error()}>{(e) => <div class="error" data-testid="effect-error">{e()}</div>}</Show>
      <Show when={result()}>
        {(r) => (
          <div class="lens-columns" data-token={r().token} data-testid="effect-result">
            <div>
              <h4 class="lens-head pos">raise token {r().token}</h4>
              <ScoredList saeId={props.saeId} rows={r().raises} onPick={props.onPick} picked={props.picked} testId="effect-raises" />
            </div>
            <div>
              <h4 class="lens-head neg">lower it</h4>
              <ScoredList saeId={props.saeId} rows={r().lowers} onPick={props.onPick} picked={props.picked} testId="effect-lowers" />
            </div>
          </div>
        )}
      </Show>
    </section>
  );
}
