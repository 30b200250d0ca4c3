import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { MODEL_DTYPES, type Architecture, type Model } from '../../../models/contracts/api.ts';
import type { Dataset } from '../../../models/contracts/datasets.ts';
import { EXTRACTION_LIMITS, STORAGE_DTYPES } from '../../../models/contracts/extractions.ts';
import { errorMessage } from '../../api.ts';
import { applyTemplate, formatInt, formBody, formSettings, type FormState } from '../../data/extraction-view.ts';
import { loadArchitecture, loadSources, type ExtractionsStore } from '../../data/extractions.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { createServerForm, FormFailure } from '../../ui/ServerForm.tsx';
import { createTemplateBar, TemplatePicker, TemplateSave } from '../../ui/TemplateBar.tsx';
import { HookPicker } from './HookPicker.tsx';

/** Errors of `hookPoints.3` and the like, shown under the picker as one list. */
function hookErrors(errors: Record<string, string>): string[] {
  return Object.entries(errors)
    .filter(([k]) => k === 'hookPoints' || k.startsWith('hookPoints.'))
    .map(([, v]) => v);
}

const initialForm = (): FormState => ({
  modelId: '',
  datasetId: '',
  hookPoints: [],
  dtype: 'fp32',
  storage: EXTRACTION_LIMITS.DEFAULT_STORAGE,
  contextLength: String(EXTRACTION_LIMITS.DEFAULT_CONTEXT),
  batchSize: String(EXTRACTION_LIMITS.DEFAULT_BATCH),
  tokenBudget: String(EXTRACTION_LIMITS.DEFAULT_TOKEN_BUDGET),
  stride: '',
  keepBos: false,
  prependBos: 'auto',
});

/** The new-extraction form; the server validates, and its messages appear beside their fields. */
export function NewExtractionForm(props: { store: ExtractionsStore }) {
  const [form, setForm] = createSignal<FormState>(initialForm());
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setForm((f) => ({ ...f, [k]: v }));
  const [models, setModels] = createSignal<Model[]>([]);
  const [datasets, setDatasets] = createSignal<Dataset[]>([]);
  const [sourcesLoaded, setSourcesLoaded] = createSignal(false);
  const [arch, setArch] = createSignal<Architecture>();
  const [archError, setArchError] = createSignal<string>();
  const server = createServerForm();
  const { errors, busy, setFailure } = server;

  const ac = new AbortController();
  onCleanup(() => ac.abort());
  loadSources(ac.signal).then(
    ({ models: m, datasets: d }) => {
      setModels(m);
      setDatasets(d);
      setSourcesLoaded(true);
      const model = m.find((x) => x.default) ?? m[0];
      setForm((f) => ({ ...f, modelId: f.modelId || model?.id || '', dtype: model?.dtype ?? f.dtype, datasetId: f.datasetId || d[0]?.id || '' }));
    },
    (err) => !ac.signal.aborted && setFailure(`Could not load models and datasets: ${errorMessage(err)}`),
  );

  // The hook picker follows the chosen model (a memo: only a change of model reloads); hooks it does not have are dropped.
  const modelId = createMemo(() => form().modelId);
  createEffect(
    on(
      modelId,
      (id) => {
        setArch(undefined);
        setArchError(undefined);
        if (!id) return;
        const model = models().find((m) => m.id === id);
        if (model) set('dtype', model.dtype);
        loadArchitecture(id, ac.signal).then(
          (a) => {
            if (form().modelId !== id) return;
            setArch(a);
            const known = new Set(a.hookPoints.map((h) => h.name));
            setForm((f) => ({ ...f, hookPoints: f.hookPoints.filter((h) => known.has(h)) }));
          },
          (err) => !ac.signal.aborted && setArchError(errorMessage(err)),
        );
      },
    ),
  );

  const submit = server.submit(() => props.store.start(formBody(form())));

  const templates = createTemplateBar({ store: props.store.templates, settings: () => formSettings(form()), apply: (t) => setForm((f) => applyTemplate(f, t)) });

  return (
    <form class="card extraction-form" onSubmit={(e) => void submit(e)} data-testid="extraction-form" novalidate>
      <h2>New extraction</h2>
      <FormFailure form={server} testId="extraction-error" />
      <div class="form-row">
        <label class="field">
          <span>Model</span>
          <select value={form().modelId} onChange={(e) => set('modelId', e.currentTarget.value)} data-testid="model-select">
            <For each={models()}>{(m) => <option value={m.id}>{m.name}</option>}</For>
          </select>
          <FieldError errors={errors()} field="modelId" />
        </label>
        <label class="field">
          <span>Dataset</span>
          <select value={form().datasetId} onChange={(e) => set('datasetId', e.currentTarget.value)} data-testid="dataset-select">
            <For each={datasets()}>{(d) => <option value={d.id}>{d.name}{d.stats ? ` (${formatInt(d.stats.tokens)} tokens)` : ''}</option>}</For>
          </select>
          <FieldError errors={errors()} field="datasetId" />
          <Show when={sourcesLoaded() && datasets().length === 0}>
            <span class="field-error" data-testid="no-datasets">
              No tokenized dataset yet: import one on the <a href="/datasets">Datasets</a> page.
            </span>
          </Show>
        </label>
        <TemplatePicker bar={templates} />
      </div>

      <div class="hook-section">
        <div class="hook-head">
          <b>Hook points</b>
          <span class="muted">one row per token is stored for each; {form().hookPoints.length} chosen</span>
        </div>
        <Show when={arch()} fallback={<p class="muted">{archError() ? `Cannot list the hook points: ${archError()}` : form().modelId ? 'Loading the hook points…' : 'Pick a model.'}</p>}>
          {(a) => <HookPicker arch={a()} selected={form().hookPoints} onChange={(h) => set('hookPoints', h)} />}
        </Show>
        <For each={hookErrors(errors())}>
          {(m) => (
            <span class="field-error" data-testid="error-hookPoints">
              {m}
            </span>
          )}
        </For>
      </div>

      <div class="form-row">
        <label class="field">
          <span>Model dtype</span>
          <select value={form().dtype} onChange={(e) => set('dtype', e.currentTarget.value as FormState['dtype'])} data-testid="dtype-select">
            <For each={MODEL_DTYPES}>{(d) => <option value={d}>{d}</option>}</For>
          </select>
          <FieldError errors={errors()} field="dtype" />
        </label>
        <label class="field">
          <span>Storage</span>
          <select value={form().storage} onChange={(e) => set('storage', e.currentTarget.value as FormState['storage'])} data-testid="storage-select">
            <For each={STORAGE_DTYPES}>{(d) => <option value={d}>{d}</option>}</For>
          </select>
          <FieldError errors={errors()} field="storage" />
        </label>
        <label class="field narrow">
          <span>Context{arch() ? ` (≤ ${arch()!.contextLength})` : ''}</span>
          <input inputmode="numeric" value={form().contextLength} onInput={(e) => set('contextLength', e.currentTarget.value)} data-testid="context-input" />
          <FieldError errors={errors()} field="contextLength" />
        </label>
        <label class="field narrow">
          <span>Batch</span>
          <input inputmode="numeric" value={form().batchSize} onInput={(e) => set('batchSize', e.currentTarget.value)} data-testid="batch-input" />
          <FieldError errors={errors()} field="batchSize" />
        </label>
        <label class="field">
          <span>Token budget</span>
          <input inputmode="numeric" value={form().tokenBudget} onInput={(e) => set('tokenBudget', e.currentTarget.value)} data-testid="budget-input" />
          <FieldError errors={errors()} field="tokenBudget" />
        </label>
        <label class="field narrow">
          <span>Stride</span>
          <input inputmode="numeric" placeholder="= context" value={form().stride} onInput={(e) => set('stride', e.currentTarget.value)} data-testid="stride-input" />
          <FieldError errors={errors()} field="stride" />
        </label>
        <label class="field">
          <span>Prepend BOS</span>
          <select value={form().prependBos} onChange={(e) => set('prependBos', e.currentTarget.value as FormState['prependBos'])} data-testid="prepend-bos-select">
            <option value="auto">as the dataset</option>
            <option value="yes">yes</option>
            <option value="no">no</option>
          </select>
          <FieldError errors={errors()} field="prependBos" />
        </label>
        <label class="field check">
          <span>BOS rows</span>
          <span class="inline">
            <input type="checkbox" checked={form().keepBos} onChange={(e) => set('keepBos', e.currentTarget.checked)} data-testid="keep-bos" /> keep
          </span>
        </label>
        <button type="submit" class="primary" disabled={busy() || !form().modelId || !form().datasetId} data-testid="extraction-submit">
          {busy() ? 'Starting…' : 'Extract'}
        </button>
      </div>
      <FieldError errors={errors()} field="windowsPerShard" />

      <div class="form-row template-save">
        <TemplateSave bar={templates} />
      </div>
      <p class="muted hint">BOS positions are excluded unless kept; windows pack documents back to back. A cancelled run's files are deleted.</p>
    </form>
  );
}
