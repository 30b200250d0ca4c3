/**
 * The Inspector (`/inspector?sae=ID`): type or paste text and see which of
 * the SAE's features fire on each token, computed in this browser — the
 * model's tokenizer, its forward pass up to the SAE's hook and the SAE's
 * encoder (onnxruntime-web on WebGPU, or WASM saying why), the files
 * downloaded once and kept by checksum — after each pause in typing. A
 * feature picked lights the text; its link opens its page. Beside it, the
 * decoder searches on WebGPU (or the CPU): the features of this text, and the
 * features by their effect on a token's logit.
 *
 * Query options for comparing engines: `backend=wasm` (never WebGPU for the
 * model), `search=cpu` (the searches' CPU fallback), `precision=f32|f16`
 * (the decoder's storage on the GPU), `text=` (the text to start with).
 */
import { A, useSearchParams } from '@solidjs/router';
import { createEffect, createSignal, For, on, Show } from 'solid-js';
import { defaultSae, saeLabel } from '../../data/feature-view.ts';
import { createSaesStore } from '../../data/features.ts';
import { createInspector } from '../../data/inspector.ts';
import type { LoadedDecoder } from '../../engine/decoder.ts';
import { EngineCard } from './EngineCard.tsx';
import { TextFeaturesPanel, TokenEffectPanel } from './SearchPanels.tsx';
import { TokenTable } from './TokenTable.tsx';
import '../features/Features.css';
import './Inspector.css';

/** What the text box holds when the page opens without `text=`. */
export const SAMPLE_TEXT = 'The Debian installer copies the packages to the disk, then it configures the boot loader and asks for a password.';


export default function InspectorPage() {
  const [search, setSearch] = useSearchParams<{ sae?: string; text?: string; backend?: string; search?: string; precision?: string }>();
  const saes = createSaesStore();
  createEffect(() => {
    const pick = defaultSae(saes.list() ?? []);
    if (pick && !search.sae) setSearch({ sae: pick.id }, { replace: true });
  });
  const saeId = () => search.sae || undefined;
  const initial = typeof search.text === 'string' && search.text ? search.text : SAMPLE_TEXT;
  const [text, setText] = createSignal(initial);
  const precision = search.precision === 'f16' || search.precision === 'f32' ? search.precision : 'auto';
  const store = createInspector(saeId, initial, {
    backend: search.backend === 'wasm' ? 'wasm' : 'auto',
    decoder: { engine: search.search === 'cpu' ? 'cpu' : 'auto', precision },
  });
  const [picked, setPicked] = createSignal<number | null>(null);
  const [decoder, setDecoder] = createSignal<LoadedDecoder>();
  const [decoderError, setDecoderError] = createSignal<string>();
  createEffect(
    on(store.manifest, (m) => {
      setDecoder(undefined);
      setPicked(null);
      if (!m) return;
      store.decoder().then(
        (d) => store.manifest() === m && setDecoder(d),
        (err) => setDecoderError(err instanceof Error ? err.message : String(err)),
      );
    }),
  );
  // the strongest feature of the first token that has one, until the user picks
  createEffect(
    on(store.result, (r) => {
      if (!r || picked() !== null) return;
      const first = r.features.find((f) => f.length > 0)?.[0];
      if (first) setPicked(first.index);
    }),
  );

  return (
    <div class="page inspector-page">
      <header class="page-head">
        <h1>Inspector</h1>
        <span class="muted">text through an SAE, in this browser</span>
        <div class="spacer" />
        <label class="inline sae-picker">
          SAE{' '}
          <select value={search.sae ?? ''} onChange={(e) => setSearch({ sae: e.currentTarget.value })} data-testid="sae-select">
            <Show when={search.sae && saes.list() && !saes.list()!.some((s) => s.id === search.sae)}>
              <option value={search.sae!}>unknown SAE {search.sae}</option>
            </Show>
            <For each={saes.list()}>
              {(s) => (
                <option value={s.id} selected={s.id === saeId()}>
                  {saeLabel(s, { model: false })}
                </option>
              )}
            </For>
          </select>
        </label>
        <Show when={saeId()}>
          <A href={`/features?sae=${saeId()}`} class="small nowrap">
            its features
          </A>
        </Show>
      </header>
      <Show when={saes.error()}>{(e) => <div class="error">Could not load the SAEs: {e()}</div>}</Show>
      <Show when={saes.list() && saes.list()!.length === 0}>
        <p class="muted" data-testid="no-saes">
          No SAE yet: train one on the <A href="/training">Training</A> page, or import one with <code>loupe sae import</code>.
        </p>
      </Show>
      <Show when={saeId()}>
        <div class="inspector-grid">
          <div class="inspector-main">
            <section class="card">
              <textarea
                class="inspector-text"
                rows={4}
                value={text()}
                onInput={(e) => {
                  setText(e.currentTarget.value);
                  store.setText(e.currentTarget.value);
                }}
                placeholder="Type or paste text: it runs after each pause in typing"
                aria-label="Text"
                data-testid="inspector-text"
              />
            </section>
            <EngineCard store={store} search={decoder()?.engine} />
            <Show when={store.result()}>{(r) => <TokenTable saeId={saeId()!} result={r()} picked={picked()} onPick={setPicked} />}</Show>
          </div>
          <div class="inspector-side">
            <Show when={decoderError()}>{(e) => <div class="error">The decoder searches cannot run: {e()}</div>}</Show>
            <TextFeaturesPanel saeId={saeId()!} decoder={decoder()} result={store.result()} picked={picked()} onPick={setPicked} />
            <TokenEffectPanel saeId={saeId()!} decoder={decoder()} tokenizer={store.model()?.tokenizer} onPick={setPicked} picked={picked()} />
          </div>
        </div>
      </Show>
    </div>
  );
}
