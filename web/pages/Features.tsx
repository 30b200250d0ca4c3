/**
 * Features page: pick an SAE, discover its features (a `features.discover`
 * run over the stored activations of an extraction — by default the one the
 * SAE was trained on — or over fresh text from a dataset run through the
 * SAE's model, followed live from `discovery/{id}`: phase, rows, ETA,
 * cancel; each run says what it ran over), and
 * browse them in a table searched, filtered, sorted and paged by the server
 * (`GET /api/features`): label substring, peak token, activation frequency
 * range (log scale, in %), favourites. The whole view lives in the URL, so a
 * link reproduces it and back/forward step through it; typing is debounced.
 * A row opens the feature's page (FeatureDetail.tsx). The SAE picker and the
 * discoveries reload every 10 s while the tab is visible: an SAE or a
 * discovery made elsewhere (the first-start demo, the API) appears.
 */
import { A, useNavigate, useSearchParams } from '@solidjs/router';
import { createEffect, createMemo, createSignal, For, on, onCleanup, Show, untrack } from 'solid-js';
import { FEATURE_LIMITS, type Discovery, type FeatureListItem } from '../../models/contracts/features.ts';
import type { Sae } from '../../models/contracts/trainings.ts';
import { errorMessage, fieldErrors } from '../api.ts';
import { formatInt } from '../data/dataset-view.ts';
import {
  debounce,
  defaultTextContext,
  discoverBody,
  discoveryActive,
  discoveryChoices,
  DISCOVERY_PHASE_LABEL,
  discoveryPercent,
  discoverySourceText,
  EMPTY_DISCOVER_FORM,
  extractionName,
  featureHref,
  formatFrequency,
  formatScore,
  formatValue,
  FREQ_SLIDER,
  freqToSlider,
  labelSourceText,
  listSearchParams,
  nextSort,
  PAGE_SIZES,
  pageCount,
  parseListQuery,
  pickSource,
  quoteToken,
  sliderToFreq,
  sortMark,
  tokenFilterInput,
  tokenFilterValue,
  TEXT_SOURCE,
  type DiscoverForm,
  type FeatureListQuery,
  type SourceNames,
} from '../data/feature-view.ts';
import { createDiscoveriesStore, createDiscoverySourcesStore, createFeatureListStore, createSaesStore, patchFeature, type DiscoveriesStore, type FeatureListStore } from '../data/features.ts';
import { formatEta } from '../data/model-view.ts';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { TokenChip } from '../ui/TokenChip.tsx';
import './Features.css';

/** Pause in typing before the search runs, ms. */
const TYPING_MS = 300;

const saeLabel = (s: Sae) => `${s.name} · ${s.hookPoint} · d_sae ${formatInt(s.dSae)}${s.modelName ? ` · ${s.modelName}` : ''}`;

/** A field's error from the form's check or the server's 400, beside the field. */
function FieldError(props: { errors: Record<string, string>; field: string }) {
  return (
    <Show when={props.errors[props.field]}>
      <span class="field-error" data-testid={`discover-error-${props.field}`}>
        {props.errors[props.field]}
      </span>
    </Show>
  );
}

/** Fields of the form that show their own errors; others (saeId, …) go to the panel's alert. */
const FORM_FIELDS = ['extractionId', 'datasetId', 'maxTokens', 'contextLength', 'topK', 'left', 'right'] as const;
const OPTION_FIELDS = ['topK', 'left', 'right'];

/**
 * The SAE's discoveries: the latest with live progress, the form that runs a
 * new one (over the stored activations of an extraction, the one the SAE was
 * trained on by default, or over fresh text from a dataset run through the
 * SAE's model), the history, each saying what it ran over.
 */
function DiscoveryPanel(props: { store: DiscoveriesStore; sae: Sae }) {
  const sources = createDiscoverySourcesStore(() => props.sae);
  const [busy, setBusy] = createSignal(false);
  const [failure, setFailure] = createSignal<string>();
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [form, setForm] = createSignal<DiscoverForm>({ ...EMPTY_DISCOVER_FORM });
  const latest = () => props.store.list()[0];
  const running = () => props.store.list().find((d) => discoveryActive(d.status));

  const choices = createMemo(() => {
    const data = sources.data();
    return data ? discoveryChoices(props.sae, data.extractions, data.datasets, data.trainedId) : undefined;
  });
  // A new SAE starts from a blank form; once its sources are known, the source is one they offer.
  createEffect(
    on(
      () => props.sae.id,
      () => {
        setForm({ ...EMPTY_DISCOVER_FORM });
        setErrors({});
        setFailure(undefined);
      },
    ),
  );
  createEffect(() => {
    const c = choices();
    if (!c) return;
    const source = untrack(() => form().source);
    const picked = pickSource(source, c);
    if (picked !== source) setForm((f) => ({ ...f, source: picked }));
  });
  const allDatasets = () => [...(choices()?.datasets ?? []), ...(choices()?.otherDatasets ?? [])];
  /** the picked dataset, else the first one tokenized by the SAE's model */
  const datasetId = () => (allDatasets().some((d) => d.id === form().datasetId) ? form().datasetId : (choices()?.datasets[0]?.id ?? ''));
  const dataset = () => allDatasets().find((d) => d.id === datasetId());
  const isText = () => form().source === TEXT_SOURCE;
  const defaultContext = () => defaultTextContext(props.sae.cfg, sources.data()?.modelContext ?? null);
  const extractionNames = createMemo(() => new Map((sources.data()?.extractions ?? []).map((e) => [e.id, extractionName(e)])));
  const datasetNames = createMemo(() => new Map((sources.data()?.datasets ?? []).map((d) => [d.id, d.name])));
  const names: SourceNames = { extraction: (id) => extractionNames().get(id), dataset: (id) => datasetNames().get(id) };

  const edit = (patch: Partial<DiscoverForm>, field?: string) => {
    setForm((f) => ({ ...f, ...patch }));
    if (field && errors()[field]) setErrors(({ [field]: _, ...rest }) => rest);
  };
  const start = async () => {
    setFailure(undefined);
    const { body, errors: found } = discoverBody(props.sae.id, { ...form(), datasetId: datasetId() }, { defaultContext: defaultContext(), modelContext: sources.data()?.modelContext ?? null, datasetTokens: dataset()?.stats?.tokens ?? null });
    setErrors(found);
    if (!body) return;
    setBusy(true);
    try {
      await props.store.start(body);
    } catch (err) {
      const fields = fieldErrors(err);
      const shown = Object.fromEntries(Object.entries(fields).filter(([k]) => (FORM_FIELDS as readonly string[]).includes(k)));
      const rest = Object.entries(fields).filter(([k]) => !(k in shown));
      setErrors(shown);
      if (rest.length) setFailure(rest.map(([k, v]) => `${k}: ${v}`).join('; '));
      else if (Object.keys(shown).length === 0) setFailure(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const cancel = async (d: Discovery) => {
    try {
      await props.store.cancel(d);
    } catch (err) {
      setFailure(errorMessage(err));
    }
  };
  const optionsOpen = () => OPTION_FIELDS.some((k) => errors()[k]);

  return (
    <section class="card discovery-card" data-testid="discovery-panel">
      <div class="discovery-head">
        <h2>Discovery</h2>
        <span class="muted">runs the SAE over stored activations or fresh text: frequency, histogram, top examples and a label per feature</span>
      </div>
      <div class="discover-form" data-testid="discover-form">
        <label class="field">
          <span>Over</span>
          <select value={form().source} onChange={(e) => edit({ source: e.currentTarget.value }, 'extractionId')} data-testid="discover-source">
            <Show when={props.sae.trainingId && !sources.data()}>
              <option value="" selected={form().source === ''}>
                stored activations it was trained on
              </option>
            </Show>
            <Show when={choices()?.trained}>
              {(e) => (
                <option value="" selected={form().source === ''}>
                  stored activations it was trained on: {extractionName(e())}
                </option>
              )}
            </Show>
            <For each={choices()?.extractions}>
              {(e) => (
                <option value={e.id} selected={form().source === e.id}>
                  stored activations of {extractionName(e)} · {new Date(e.createdAt).toLocaleDateString()}
                </option>
              )}
            </For>
            <option value={TEXT_SOURCE} selected={isText()}>
              fresh text from a dataset, through {props.sae.modelName ?? 'the SAE’s model'}
            </option>
          </select>
          <FieldError errors={errors()} field="extractionId" />
        </label>
        <Show when={isText()}>
          <label class="field">
            <span>Dataset</span>
            <select value={datasetId()} onChange={(e) => edit({ datasetId: e.currentTarget.value }, 'datasetId')} data-testid="discover-dataset">
              <Show when={!datasetId()}>
                <option value="" selected>
                  {sources.data() ? 'no dataset tokenized by the SAE’s model' : 'Loading…'}
                </option>
              </Show>
              <For each={choices()?.datasets}>
                {(d) => (
                  <option value={d.id} selected={datasetId() === d.id}>
                    {d.name}
                    {d.stats ? ` · ${formatInt(d.stats.tokens)} tokens` : ''}
                  </option>
                )}
              </For>
              <Show when={(choices()?.otherDatasets.length ?? 0) > 0}>
                <optgroup label="tokenized by another model (accepted when its tokenizer is the same)">
                  <For each={choices()?.otherDatasets}>
                    {(d) => (
                      <option value={d.id} selected={datasetId() === d.id}>
                        {d.name}
                        {d.stats ? ` · ${formatInt(d.stats.tokens)} tokens` : ''}
                      </option>
                    )}
                  </For>
                </optgroup>
              </Show>
            </select>
            <FieldError errors={errors()} field="datasetId" />
          </label>
          <label class="field narrow-num" title="tokens through the model at most (whole windows)">
            <span>Max tokens</span>
            <input inputmode="numeric" placeholder={formatInt(FEATURE_LIMITS.DEFAULT_TEXT_TOKENS)} value={form().maxTokens} onInput={(e) => edit({ maxTokens: e.currentTarget.value }, 'maxTokens')} data-testid="discover-max-tokens" />
            <FieldError errors={errors()} field="maxTokens" />
          </label>
          <label class="field narrow-num" title={`tokens a window; by default the SAE's context size (else ${FEATURE_LIMITS.DEFAULT_TEXT_CONTEXT}), at most the model's context${sources.data()?.modelContext ? ` (${formatInt(sources.data()!.modelContext!)})` : ''}`}>
            <span>Context length</span>
            <input inputmode="numeric" placeholder={String(defaultContext())} value={form().contextLength} onInput={(e) => edit({ contextLength: e.currentTarget.value }, 'contextLength')} data-testid="discover-context" />
            <FieldError errors={errors()} field="contextLength" />
          </label>
        </Show>
        <details class="discover-options" open={optionsOpen()}>
          <summary>options</summary>
          <label class="field narrow" title="top-activating examples kept per feature">
            <span>examples</span>
            <input inputmode="numeric" placeholder={String(FEATURE_LIMITS.DEFAULT_TOP_K)} value={form().topK} onInput={(e) => edit({ topK: e.currentTarget.value }, 'topK')} data-testid="discover-topK" />
            <FieldError errors={errors()} field="topK" />
          </label>
          <label class="field narrow" title="tokens shown before the peak">
            <span>before</span>
            <input inputmode="numeric" placeholder={String(FEATURE_LIMITS.DEFAULT_LEFT)} value={form().left} onInput={(e) => edit({ left: e.currentTarget.value }, 'left')} data-testid="discover-left" />
            <FieldError errors={errors()} field="left" />
          </label>
          <label class="field narrow" title="tokens shown after the peak">
            <span>after</span>
            <input inputmode="numeric" placeholder={String(FEATURE_LIMITS.DEFAULT_RIGHT)} value={form().right} onInput={(e) => edit({ right: e.currentTarget.value }, 'right')} data-testid="discover-right" />
            <FieldError errors={errors()} field="right" />
          </label>
        </details>
        <div class="spacer" />
        <button type="button" class="primary" disabled={busy() || running() !== undefined} onClick={() => void start()} data-testid="discover-button">
          {busy() ? 'Starting…' : latest() ? 'Discover again' : 'Discover features'}
        </button>
      </div>
      <Show when={failure()}>
        <p class="field-error" role="alert" data-testid="discover-error">
          {failure()}
        </p>
      </Show>
      <Show when={sources.error()}>{(err) => <p class="field-error">Could not load the extractions and datasets: {err()}</p>}</Show>
      <Show when={props.store.error()}>{(err) => <p class="field-error">Could not load the discoveries: {err().message}</p>}</Show>
      <Show when={latest()} fallback={<p class="muted" data-testid="no-discovery">{props.store.loading() ? 'Loading…' : 'This SAE has no discovery yet: its features appear once one completes.'}</p>}>
        {(d) => <DiscoveryRow d={d()} dSae={props.sae.dSae} names={names} onCancel={cancel} />}
      </Show>
      <Show when={props.store.list().length > 1}>
        <details class="discovery-history">
          <summary class="muted">{props.store.list().length - 1} earlier</summary>
          <For each={props.store.list().slice(1)}>{(d) => <DiscoveryRow d={d} dSae={props.sae.dSae} names={names} onCancel={cancel} compact />}</For>
        </details>
      </Show>
    </section>
  );
}

function DiscoveryRow(props: { d: Discovery; dSae: number; names: SourceNames; onCancel: (d: Discovery) => void; compact?: boolean }) {
  const d = () => props.d;
  const p = () => d().progress;
  /** over text, the scan and examples count tokens through the model */
  const unit = () => (d().source === 'text' ? 'tokens' : 'rows');
  const text = () => {
    const q = p();
    if (d().status === 'queued') return 'waiting for a worker…';
    if (d().status === 'completed') return `${d().rows !== null ? `${formatInt(d().rows!)} ${d().source === 'text' ? 'tokens' : 'activation rows'} scanned · ` : ''}top ${d().settings.topK} examples a feature`;
    if (!q) return '';
    const counts = q.phase === 'labels' ? `${formatInt(q.featuresLabelled)} / ${formatInt(props.dSae)} features` : q.phase === 'saving' ? `${formatInt(q.rowsDone)} / ${formatInt(q.rowsTotal)} features` : `${formatInt(q.rowsDone)} / ${formatInt(q.rowsTotal)} ${unit()}`;
    return `${DISCOVERY_PHASE_LABEL[q.phase]} · ${counts}${d().status === 'running' && q.etaSeconds !== null ? ` · ETA ${formatEta(q.etaSeconds)}` : ''}`;
  };
  const tone = () => (d().status === 'failed' ? 'bad' : d().status === 'cancelled' ? 'muted' : 'normal');
  return (
    <div class="discovery-row" classList={{ compact: props.compact }} data-testid="discovery" data-status={d().status} data-source={d().source}>
      <span class={`status status-${d().status}`} data-testid="discovery-status">
        {d().status}
      </span>
      <span class="muted discovery-time">{new Date(d().createdAt).toLocaleString()}</span>
      <span class="discovery-source" data-testid="discovery-source" title={d().text ? `windows of ${formatInt(d().text!.contextLength)} tokens, at most ${formatInt(d().text!.maxTokens)} tokens` : undefined}>
        {discoverySourceText(d(), props.names)}
      </span>
      <Show when={!props.compact}>
        <ProgressBar value={discoveryPercent(d(), props.dSae)} label="discovery" testId="discovery-progress" tone={tone()} />
      </Show>
      <span class="progress-text" data-testid="discovery-text">
        {text()}
      </span>
      <Show when={discoveryActive(d().status)}>
        <button type="button" class="danger-outline" onClick={() => props.onCancel(d())} data-testid="discovery-cancel">
          Cancel
        </button>
      </Show>
      <Show when={d().error}>
        <span class="field-error discovery-note">{d().error}</span>
      </Show>
      <Show when={d().warning}>
        <span class="warn-note discovery-note" data-testid="discovery-warning">
          {d().warning}
        </span>
      </Show>
    </div>
  );
}

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
function Filters(props: { query: FeatureListQuery; set: (patch: Partial<FeatureListQuery>) => void }) {
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

  return (
    <div class="feature-filters" data-testid="feature-filters">
      <label class="field grow">
        <span>Search labels</span>
        <input type="search" placeholder="substring of the label, e.g. moses" value={search.text()} onInput={(e) => search.onInput(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && search.flush()} data-testid="feature-search" />
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

type Column = 'index' | 'score' | 'frequency' | 'max';

function FeatureTable(props: { store: FeatureListStore; query: FeatureListQuery; set: (patch: Partial<FeatureListQuery>, opts?: { keepPage?: boolean }) => void }) {
  const navigate = useNavigate();
  const [starError, setStarError] = createSignal<string>();
  const items = () => props.store.data()?.items ?? [];
  const total = () => props.store.data()?.total ?? 0;
  const pages = () => pageCount(total(), props.query.limit);
  const first = () => (total() === 0 ? 0 : (props.query.page - 1) * props.query.limit + 1);
  const last = () => Math.min(total(), props.query.page * props.query.limit);

  const star = async (f: FeatureListItem) => {
    setStarError(undefined);
    props.store.update({ ...f, favourite: !f.favourite });
    try {
      const after = await patchFeature(f.id, { favourite: !f.favourite });
      if (after) props.store.update(after);
      if (props.query.favourite) props.store.reload();
    } catch (err) {
      props.store.update(f);
      setStarError(errorMessage(err));
    }
  };
  const Head = (p: { col: Column; label: string; title?: string; num?: boolean }) => (
    <th class={p.num ? 'num' : undefined} title={p.title} aria-sort={sortMark(props.query.sort, p.col) === '↓' ? 'descending' : sortMark(props.query.sort, p.col) === '↑' ? 'ascending' : undefined}>
      <button type="button" class="sort-button" onClick={() => props.set({ sort: nextSort(props.query.sort, p.col) }, { keepPage: false })} data-testid={`sort-${p.col}`}>
        {p.label} <span class="sort-mark">{sortMark(props.query.sort, p.col)}</span>
      </button>
    </th>
  );
  const open = (f: FeatureListItem) => navigate(featureHref(f.saeId, f.index, props.query));

  return (
    <section class="card feature-table-card">
      <Show when={props.store.error()}>
        {(err) => (
          <div class="error" role="alert" data-testid="features-error">
            <b>Could not load the features:</b> {err().message} <button onClick={() => props.store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <Show when={starError()}>
        <p class="field-error" role="alert">
          {starError()}
        </p>
      </Show>
      <div class="table-head">
        <span class="muted" data-testid="feature-count">
          <Show when={props.store.data()} fallback={props.store.loading() ? 'Loading…' : ''}>
            {total() === 0 ? 'No feature matches.' : `${formatInt(first())}–${formatInt(last())} of ${formatInt(total())} features`}
          </Show>
        </span>
        <Show when={props.store.loading()}>
          <span class="spinner" aria-label="loading" />
        </Show>
      </div>
      <div class="table-scroll">
        <table class="feature-table" classList={{ stale: props.store.loading() }} data-testid="feature-table">
          <thead>
            <tr>
              <th class="star-col" title="favourite">★</th>
              <Head col="index" label="#" num />
              <th>label</th>
              <th>peak tokens</th>
              <Head col="score" label="score" num title="share of the top examples that agree with the label's token" />
              <Head col="frequency" label="frequency" num title="share of tokens on which the feature is active" />
              <Head col="max" label="max" num title="strongest activation" />
            </tr>
          </thead>
          <tbody>
            <For each={items()}>
              {(f) => (
                <tr data-testid="feature-row" data-index={f.index} onClick={(e) => !(e.target as HTMLElement).closest('button, a') && open(f)}>
                  <td class="star-col">
                    <button type="button" class="star" classList={{ on: f.favourite }} aria-pressed={f.favourite} title={f.favourite ? 'remove from favourites' : 'add to favourites'} onClick={() => void star(f)} data-testid="row-star">
                      {f.favourite ? '★' : '☆'}
                    </button>
                  </td>
                  <td class="num index-col">
                    <A href={featureHref(f.saeId, f.index, props.query)} data-testid="feature-link">
                      {f.index}
                    </A>
                  </td>
                  <td class="label-col">
                    <span class="feature-label" data-testid="row-label">
                      {f.label ?? '—'}
                    </span>
                    <Show when={f.labelSource && f.labelSource !== 'heuristic'}>
                      <span class={`badge source-${f.labelSource}`}>{labelSourceText(f.labelSource)}</span>
                    </Show>
                    <Show when={f.hasNotes}>
                      <span class="muted notes-mark" title="has notes">
                        ✎
                      </span>
                    </Show>
                  </td>
                  <td class="tokens-col">
                    <For each={f.topTokens}>{(t) => <TokenChip text={t.text} count={t.count} onClick={() => props.set({ token: t.text })} title={`show features peaking on ${quoteToken(t.text)}`} />}</For>
                  </td>
                  <td class="num" data-testid="row-score">
                    {formatScore(f.score)}
                  </td>
                  <td class="num" data-testid="row-frequency">
                    {formatFrequency(f.frequency)}
                  </td>
                  <td class="num">{formatValue(f.maxActivation)}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <Show when={pages() > 1}>
        <nav class="pager" data-testid="pager">
          <button type="button" disabled={props.query.page <= 1} onClick={() => props.set({ page: 1 }, { keepPage: true })}>
            «
          </button>
          <button type="button" disabled={props.query.page <= 1} onClick={() => props.set({ page: props.query.page - 1 }, { keepPage: true })} data-testid="page-prev">
            ‹ Previous
          </button>
          <span data-testid="page-text">
            page {props.query.page} of {formatInt(pages())}
          </span>
          <button type="button" disabled={props.query.page >= pages()} onClick={() => props.set({ page: props.query.page + 1 }, { keepPage: true })} data-testid="page-next">
            Next ›
          </button>
          <button type="button" disabled={props.query.page >= pages()} onClick={() => props.set({ page: pages() }, { keepPage: true })}>
            »
          </button>
        </nav>
      </Show>
    </section>
  );
}

export default function FeaturesPage() {
  const [params, setParams] = useSearchParams();
  const query = createMemo(() => parseListQuery({ ...params }), undefined, { equals: (a, b) => JSON.stringify(a) === JSON.stringify(b) });
  /** a new view in the URL (a history entry); any change but paging goes back to page 1 */
  const set = (patch: Partial<FeatureListQuery>, opts: { keepPage?: boolean; replace?: boolean } = {}) => {
    const next = { ...query(), ...patch };
    if (!opts.keepPage && patch.page === undefined) next.page = 1;
    setParams(listSearchParams(next), { replace: opts.replace ?? false });
  };

  // Reloaded every 10 s while the tab is visible: an SAE trained meanwhile (by the first-start demo, say) appears.
  const saeStore = createSaesStore();
  const saes = saeStore.list;
  const saeError = saeStore.error;
  const reloadSaes = saeStore.reload;
  // No SAE in the URL: the newest one, without a history entry of its own.
  createEffect(() => {
    const list = saes();
    if (list && list.length > 0 && !query().sae) set({ sae: list[0]!.id }, { replace: true });
  });
  const sae = () => saes()?.find((s) => s.id === query().sae);

  const list = createFeatureListStore(query);
  const discoveries = createDiscoveriesStore(
    () => query().sae,
    () => list.reload(),
  );
  const noFeatures = () => list.data()?.total === 0 && !query().q && !query().token && query().minFreq === null && query().maxFreq === null && !query().favourite;

  return (
    <div class="page features-page">
      <header class="page-head">
        <h1>Features</h1>
        <label class="inline sae-picker">
          <span class="muted">SAE</span>
          <select value={query().sae ?? ''} onChange={(e) => set({ sae: e.currentTarget.value, q: '', token: '', minFreq: null, maxFreq: null, favourite: false })} data-testid="sae-select">
            <Show when={query().sae && saes() && !sae()}>
              <option value={query().sae!}>unknown SAE {query().sae}</option>
            </Show>
            <For each={saes()}>{(s) => <option value={s.id}>{saeLabel(s)}</option>}</For>
          </select>
        </label>
      </header>
      <Show when={saeError()}>
        <div class="error" role="alert">
          <b>Could not load the SAEs:</b> {saeError()} <button onClick={() => void reloadSaes()}>Retry</button>
        </div>
      </Show>
      <Show when={saes()} fallback={<p class="muted">{saeError() ? '' : 'Loading…'}</p>}>
        <Show
          when={saes()!.length > 0}
          fallback={
            <p class="muted" data-testid="no-saes">
              No SAE yet: train one on the <A href="/training">Training</A> page (or import one with <code>loupe sae import</code>); its features are discovered here.
            </p>
          }
        >
          <Show
            when={sae()}
            fallback={
              <div class="error" role="alert" data-testid="unknown-sae">
                No SAE {query().sae}: it may have been deleted. Pick another above.
              </div>
            }
          >
            {(s) => (
              <>
                <DiscoveryPanel store={discoveries} sae={s()} />
                <Filters query={query()} set={set} />
                <Show when={!noFeatures()} fallback={<p class="muted" data-testid="no-features">No features yet for this SAE: run a discovery above.</p>}>
                  <FeatureTable store={list} query={query()} set={set} />
                </Show>
              </>
            )}
          </Show>
        </Show>
      </Show>
    </div>
  );
}
