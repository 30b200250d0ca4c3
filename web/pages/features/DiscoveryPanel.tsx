import { createEffect, createMemo, createSignal, For, on, Show, untrack } from 'solid-js';
import type { Dataset } from '../../../models/contracts/datasets.ts';
import { FEATURE_LIMITS, type Discovery } from '../../../models/contracts/features.ts';
import type { Sae } from '../../../models/contracts/trainings.ts';
import { errorMessage, fieldErrors } from '../../api.ts';
import { formatInt } from '../../data/dataset-view.ts';
import { defaultTextContext, discoverBody, discoveryActive, discoveryChoices, EMPTY_DISCOVER_FORM, extractionName, pickSource, TEXT_SOURCE, type DiscoverForm, type SourceNames } from '../../data/discovery-view.ts';
import { createDiscoverySourcesStore, type DiscoveriesStore } from '../../data/features.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { DiscoveryRow } from './DiscoveryRow.tsx';

/** Fields of the form that show their own errors; others (saeId, …) go to the panel's alert. */
const FORM_FIELDS = ['extractionId', 'datasetId', 'maxTokens', 'contextLength', 'topK', 'left', 'right'] as const;
const OPTION_FIELDS = ['topK', 'left', 'right'];

/**
 * The SAE's discoveries: the latest with live progress, the form that runs a
 * new one (over the stored activations of an extraction, the one the SAE was
 * trained on by default, or over fresh text from a dataset run through the
 * SAE's model), the history, each saying what it ran over.
 */
export function DiscoveryPanel(props: { store: DiscoveriesStore; sae: Sae }) {
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
  const DatasetOption = (p: { d: Dataset }) => (
    <option value={p.d.id} selected={datasetId() === p.d.id}>
      {p.d.name}
      {p.d.stats ? ` · ${formatInt(p.d.stats.tokens)} tokens` : ''}
    </option>
  );

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
          <FieldError testIdPrefix="discover-error-" errors={errors()} field="extractionId" />
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
              <For each={choices()?.datasets}>{(d) => <DatasetOption d={d} />}</For>
              <Show when={(choices()?.otherDatasets.length ?? 0) > 0}>
                <optgroup label="tokenized by another model (accepted when its tokenizer is the same)">
                  <For each={choices()?.otherDatasets}>{(d) => <DatasetOption d={d} />}</For>
                </optgroup>
              </Show>
            </select>
            <FieldError testIdPrefix="discover-error-" errors={errors()} field="datasetId" />
          </label>
          <label class="field narrow-num" title="tokens through the model at most (whole windows)">
            <span>Max tokens</span>
            <input inputmode="numeric" placeholder={formatInt(FEATURE_LIMITS.DEFAULT_TEXT_TOKENS)} value={form().maxTokens} onInput={(e) => edit({ maxTokens: e.currentTarget.value }, 'maxTokens')} data-testid="discover-max-tokens" />
            <FieldError testIdPrefix="discover-error-" errors={errors()} field="maxTokens" />
          </label>
          <label class="field narrow-num" title={`tokens a window; by default the SAE's context size (else ${FEATURE_LIMITS.DEFAULT_TEXT_CONTEXT}), at most the model's context${sources.data()?.modelContext ? ` (${formatInt(sources.data()!.modelContext!)})` : ''}`}>
            <span>Context length</span>
            <input inputmode="numeric" placeholder={String(defaultContext())} value={form().contextLength} onInput={(e) => edit({ contextLength: e.currentTarget.value }, 'contextLength')} data-testid="discover-context" />
            <FieldError testIdPrefix="discover-error-" errors={errors()} field="contextLength" />
          </label>
        </Show>
        <details class="discover-options" open={optionsOpen()} data-testid="discover-options">
          <summary>
            options{' '}
            <span class="muted">
              ({form().topK || FEATURE_LIMITS.DEFAULT_TOP_K} examples a feature, {form().left || FEATURE_LIMITS.DEFAULT_LEFT} + {form().right || FEATURE_LIMITS.DEFAULT_RIGHT} tokens around the peak)
            </span>
          </summary>
          {/* one row of fields, each with its unit beside the number */}
          <div class="discover-options-row" data-testid="discover-options-row">
            <label class="field narrow" title="top-activating examples kept per feature">
              <span>Top examples</span>
              <span class="with-unit">
                <input inputmode="numeric" placeholder={String(FEATURE_LIMITS.DEFAULT_TOP_K)} value={form().topK} onInput={(e) => edit({ topK: e.currentTarget.value }, 'topK')} data-testid="discover-topK" />
                <span class="unit">a feature</span>
              </span>
              <FieldError testIdPrefix="discover-error-" errors={errors()} field="topK" />
            </label>
            <label class="field narrow" title="tokens of context shown before the peak token">
              <span>Before the peak</span>
              <span class="with-unit">
                <input inputmode="numeric" placeholder={String(FEATURE_LIMITS.DEFAULT_LEFT)} value={form().left} onInput={(e) => edit({ left: e.currentTarget.value }, 'left')} data-testid="discover-left" />
                <span class="unit">tokens</span>
              </span>
              <FieldError testIdPrefix="discover-error-" errors={errors()} field="left" />
            </label>
            <label class="field narrow" title="tokens of context shown after the peak token">
              <span>After the peak</span>
              <span class="with-unit">
                <input inputmode="numeric" placeholder={String(FEATURE_LIMITS.DEFAULT_RIGHT)} value={form().right} onInput={(e) => edit({ right: e.currentTarget.value }, 'right')} data-testid="discover-right" />
                <span class="unit">tokens</span>
              </span>
              <FieldError testIdPrefix="discover-error-" errors={errors()} field="right" />
            </label>
          </div>
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
