import { useLocation } from '@solidjs/router';
import { createEffect, createSignal, For, on, onCleanup, onMount, Show } from 'solid-js';
import { debounce, FREQ_SLIDER, freqToSlider, PAGE_SIZES, sliderToFreq, type FeatureListQuery } from '../../data/feature-query.ts';
import { featureKeyAction, formatFrequency, tokenFilterInput, tokenFilterValue } from '../../data/feature-view.ts';

/** Pause in typing before the search runs, ms. */
const TYPING_MS = 300;

/** A text input bound to a URL field: local while typing, committed after a pause, updated by back/forward. */
function useUrlText(value: () => string, commit: (v: string) => void, toInput = (v: string) => v) {
  const [text, setText] = createSignal(toInput(value()));
  let typing = false;
  const send = debounce((v: string) => {
    typing = false;
    commit(v);
  }, TYPING_MS);
  onCleanup(() => send.cancel());
  createEffect(
    on(value, (v) => {
      if (!typing) setText(toInput(v));
    }),
  );
  return {
    text,
    onInput(v: string) {
      typing = true;
      setText(v);
      send(v);
    },
    flush: () => send.flush(),
  };
}

/** Search, token, frequency range, favourites, page size. */
export function Filters(props: { query: FeatureListQuery; set: (patch: Partial<FeatureListQuery>) => void }) {
  const search = useUrlText(
    () => props.query.q,
    (q) => props.set({ q }),
  );
  const token = useUrlText(
    () => props.query.token,
    (t) => props.set({ token: tokenFilterValue(t) }),
    tokenFilterInput,
  );
  // The sliders show where they are while dragged; the URL changes after a pause.
  const [minPos, setMinPos] = createSignal(freqToSlider(props.query.minFreq, 'min'));
  const [maxPos, setMaxPos] = createSignal(freqToSlider(props.query.maxFreq, 'max'));
  createEffect(on(() => props.query.minFreq, (f) => setMinPos(freqToSlider(f, 'min'))));
  createEffect(on(() => props.query.maxFreq, (f) => setMaxPos(freqToSlider(f, 'max'))));
  const sendRange = debounce(() => props.set({ minFreq: sliderToFreq(minPos(), 'min'), maxFreq: sliderToFreq(maxPos(), 'max') }), TYPING_MS);
  onCleanup(() => sendRange.cancel());
  const moveMin = (v: number) => {
    setMinPos(v);
    if (maxPos() < v) setMaxPos(v);
    sendRange();
  };
  const moveMax = (v: number) => {
    setMaxPos(v);
    if (minPos() > v) setMinPos(v);
    sendRange();
  };
  const bound = (pos: number, end: 'min' | 'max') => {
    const f = sliderToFreq(pos, end);
    return f === null ? (end === 'min' ? '0 %' : '100 %') : formatFrequency(f);
  };
  const filtered = () => props.query.q || props.query.token || props.query.minFreq !== null || props.query.maxFreq !== null || props.query.favourite;

  // `/` goes to the search, here and from a feature's page (which comes back with focusSearch in the history state)
  let searchInput: HTMLInputElement | undefined;
  const location = useLocation<{ focusSearch?: boolean }>();
  // after the frame that puts the filters in the page (they appear once the SAEs are loaded)
  onMount(() => location.state?.focusSearch && requestAnimationFrame(() => searchInput?.focus()));
  const onKey = (e: KeyboardEvent) => {
    if (featureKeyAction({ key: e.key, altKey: e.altKey, ctrlKey: e.ctrlKey, metaKey: e.metaKey, target: e.target as HTMLElement | null }) !== 'search') return;
    e.preventDefault();
    searchInput?.focus();
  };
  window.addEventListener('keydown', onKey);
  onCleanup(() => window.removeEventListener('keydown', onKey));

  return (
    <div class="feature-filters" data-testid="feature-filters">
      <label class="field grow">
        <span>Search labels</span>
        <input ref={searchInput} type="search" aria-keyshortcuts="/" placeholder="text of a label or a peak token's word, e.g. moses" value={search.text()} onInput={(e) => search.onInput(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && search.flush()} data-testid="feature-search" />
      </label>
      <label class="field" title="features whose top examples peak on this token; · is a space, ↵ a line break; #123 for a token id">
        <span>Peak token</span>
        <input class="token-input" placeholder="·Moses or #123" value={token.text()} onInput={(e) => token.onInput(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && token.flush()} data-testid="token-filter" />
      </label>
      <div class="field freq-range" data-testid="freq-range">
        <span>
          Activation frequency <b data-testid="freq-range-text">{bound(minPos(), 'min')} – {bound(maxPos(), 'max')}</b> <span class="muted">(log scale)</span>
        </span>
        <div class="freq-sliders">
          <input type="range" min={FREQ_SLIDER.min} max={FREQ_SLIDER.max} step={FREQ_SLIDER.step} value={minPos()} onInput={(e) => moveMin(Number(e.currentTarget.value))} aria-label="lowest frequency" data-testid="freq-min" />
          <input type="range" min={FREQ_SLIDER.min} max={FREQ_SLIDER.max} step={FREQ_SLIDER.step} value={maxPos()} onInput={(e) => moveMax(Number(e.currentTarget.value))} aria-label="highest frequency" data-testid="freq-max" />
        </div>
      </div>
      <label class="field check">
        <span>&nbsp;</span>
        <span class="inline">
          <input type="checkbox" checked={props.query.favourite} onChange={(e) => props.set({ favourite: e.currentTarget.checked })} data-testid="favourites-only" />★ favourites only
        </span>
      </label>
      <label class="field">
        <span>Rows</span>
        <select value={String(props.query.limit)} onChange={(e) => props.set({ limit: Number(e.currentTarget.value) })} data-testid="page-size">
          <For each={PAGE_SIZES}>{(n) => <option value={String(n)}>{n}</option>}</For>
        </select>
      </label>
      <Show when={filtered()}>
        <button type="button" class="clear-filters" onClick={() => props.set({ q: '', token: '', minFreq: null, maxFreq: null, favourite: false })} data-testid="clear-filters">
          Clear filters
        </button>
      </Show>
    </div>
  );
}
