/**
 * Extractions page: start an extraction (model, dataset, hook points picked
 * by block from the model's architecture, dtypes, context, batch, token
 * budget; load or save a template), follow every run live (tokens, tokens/s,
 * ETA, from `extraction/{id}`; after a reload, from the API), look at what a
 * run stored (per hook: shape, shards, rows, statistics, and the
 * per-dimension variance as a d3 chart), cancel and delete runs.
 */
import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { MODEL_DTYPES, type Architecture, type Model } from '../../models/contracts/api.ts';
import type { Dataset } from '../../models/contracts/datasets.ts';
import { EXTRACTION_LIMITS, STORAGE_DTYPES, type Extraction, type ExtractionDetail, type ExtractionTemplate } from '../../models/contracts/extractions.ts';
import { errorMessage, fieldErrors } from '../api.ts';
import {
  applyTemplate,
  extractableHooks,
  formatInt,
  formatStat,
  formBody,
  formSettings,
  isRunning,
  rowLabel,
  settingsLabel,
  tokensPercent,
  type FormState,
} from '../data/extraction-view.ts';
import { createExtractionsStore, loadArchitecture, loadDetail, loadSources, type ExtractionsStore } from '../data/extractions.ts';
import { formatEta } from '../data/model-view.ts';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import { formatBytes } from '../ui/format.ts';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { VarianceChart } from '../ui/VarianceChart.tsx';

function FieldError(props: { errors: Record<string, string>; field: string }) {
  return (
    <Show when={props.errors[props.field]}>
      <span class="field-error" data-testid={`error-${props.field}`}>
        {props.errors[props.field]}
      </span>
    </Show>
  );
}

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

/** The hook picker: the model's per-token hook points, grouped by block. */
function HookPicker(props: { arch: Architecture; selected: string[]; onChange: (hooks: string[]) => void }) {
  const toggle = (name: string, on: boolean) => props.onChange(on ? [...props.selected, name] : props.selected.filter((h) => h !== name));
  return (
    <ol class="hook-picker" data-testid="hook-picker">
      <For each={extractableHooks(props.arch)}>
        {(g) => (
          <li class="hook-group" data-testid={`hooks-${g.key}`}>
            <h4>{g.title}</h4>
            <For each={g.hooks}>
              {(h) => (
                <label class="hook-option" title={`${h.name} ${rowLabel(h.shape)}`}>
                  <input type="checkbox" checked={props.selected.includes(h.name)} onChange={(e) => toggle(h.name, e.currentTarget.checked)} data-testid={`hook-${h.name}`} />
                  <code>{h.layer === null ? h.name : h.name.replace(`blocks.${h.layer}.`, '')}</code>
                  <span class="muted">{rowLabel(h.shape)}</span>
                </label>
              )}
            </For>
          </li>
        )}
      </For>
    </ol>
  );
}

/** The new-extraction form; the server validates, and its messages appear beside their fields. */
function NewExtractionForm(props: { store: ExtractionsStore }) {
  const [form, setForm] = createSignal<FormState>(initialForm());
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setForm((f) => ({ ...f, [k]: v }));
  const [models, setModels] = createSignal<Model[]>([]);
  const [datasets, setDatasets] = createSignal<Dataset[]>([]);
  const [sourcesLoaded, setSourcesLoaded] = createSignal(false);
  const [arch, setArch] = createSignal<Architecture>();
  const [archError, setArchError] = createSignal<string>();
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [failure, setFailure] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const [templateName, setTemplateName] = createSignal('');
  const [templateNote, setTemplateNote] = createSignal<{ ok: boolean; text: string }>();

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

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFailure(undefined);
    try {
      await props.store.start(formBody(form()));
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      if (Object.keys(fields).length === 0) setFailure(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const loadTemplate = (id: string) => {
    const t = props.store.templates().find((x) => x.id === id);
    if (!t) return;
    setForm((f) => applyTemplate(f, t.settings));
    setTemplateNote({ ok: true, text: `Loaded “${t.name}”.` });
  };
  const saveTemplate = async () => {
    setTemplateNote(undefined);
    try {
      const t = await props.store.saveTemplate(templateName().trim(), formSettings(form()));
      setTemplateName('');
      setTemplateNote({ ok: true, text: `Saved “${t.name}”.` });
    } catch (err) {
      const fields = fieldErrors(err);
      setTemplateNote({ ok: false, text: Object.keys(fields).length ? Object.entries(fields).map(([k, v]) => `${k.replace(/^settings\./, '')}: ${v}`).join('; ') : errorMessage(err) });
    }
  };
  const deleteTemplate = async (t: ExtractionTemplate) => {
    try {
      await props.store.removeTemplate(t);
      setTemplateNote({ ok: true, text: `Deleted “${t.name}”.` });
    } catch (err) {
      setTemplateNote({ ok: false, text: errorMessage(err) });
    }
  };
  const [chosenTemplate, setChosenTemplate] = createSignal('');

  return (
    <form class="card extraction-form" onSubmit={(e) => void submit(e)} data-testid="extraction-form" novalidate>
      <h2>New extraction</h2>
      <Show when={failure()}>
        <div class="error" role="alert" data-testid="extraction-error">
          {failure()}
        </div>
      </Show>
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
        <label class="field">
          <span>Template</span>
          <span class="inline">
            <select value={chosenTemplate()} onChange={(e) => setChosenTemplate(e.currentTarget.value)} data-testid="template-select">
              <option value="">—</option>
              <For each={props.store.templates()}>{(t) => <option value={t.id}>{t.name}</option>}</For>
            </select>
            <button type="button" disabled={!chosenTemplate()} onClick={() => loadTemplate(chosenTemplate())} data-testid="template-load">
              Load
            </button>
            <button
              type="button"
              class="danger-outline"
              disabled={!chosenTemplate()}
              onClick={() => {
                const t = props.store.templates().find((x) => x.id === chosenTemplate());
                if (t) void deleteTemplate(t).then(() => setChosenTemplate(''));
              }}
              data-testid="template-delete"
            >
              Delete
            </button>
          </span>
        </label>
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
        <label class="field grow">
          <span>Save these settings as a template</span>
          <span class="inline">
            <input placeholder="template name" value={templateName()} onInput={(e) => setTemplateName(e.currentTarget.value)} data-testid="template-name" />
            <button type="button" disabled={!templateName().trim()} onClick={() => void saveTemplate()} data-testid="template-save">
              Save template
            </button>
          </span>
        </label>
        <Show when={templateNote()}>
          {(n) => (
            <p class={n().ok ? 'muted template-note' : 'field-error template-note'} data-testid="template-note">
              {n().text}
            </p>
          )}
        </Show>
      </div>
      <p class="muted hint">BOS positions are excluded unless kept; windows pack documents back to back. A cancelled run's files are deleted.</p>
    </form>
  );
}

/** What a run stored: per hook its shape, shards, rows, statistics and per-dimension variance. */
function RunDetail(props: { run: Extraction }) {
  const [detail, setDetail] = createSignal<ExtractionDetail>();
  const [failure, setFailure] = createSignal<string>();
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  // Loaded on open, and again when the run's status or shard count changes.
  const version = createMemo(() => `${props.run.status}/${props.run.progress?.shards ?? 0}`);
  createEffect(
    on(
      version,
      () => {
        loadDetail(props.run.id, ac.signal).then(
          (d) => (setDetail(d), setFailure(undefined)),
          (err) => !ac.signal.aborted && setFailure(errorMessage(err)),
        );
      },
    ),
  );
  return (
    <section class="run-detail" data-testid="run-detail">
      <Show when={failure()}>
        <p class="error" role="alert">
          Could not load the run: {failure()}
        </p>
      </Show>
      <Show when={detail()} fallback={<p class="muted">Loading…</p>}>
        {(d) => (
          <Show when={d().manifest} fallback={<p class="muted" data-testid="detail-empty">{isRunning(d().status) ? 'Nothing stored yet: the first shard is on its way.' : 'No files: this run stored nothing, or its files were deleted.'}</p>}>
            {(m) => (
              <>
                <p class="muted">
                  {m().complete ? 'complete' : 'in progress'} · {formatInt(m().windowsDone)} of {formatInt(m().windowsTotal)} windows · {formatInt(m().tokensDone)} tokens · {m().windowsPerShard} windows a shard
                </p>
                <table class="run-hooks" data-testid="run-hooks">
                  <thead>
                    <tr>
                      <th>hook</th>
                      <th>row</th>
                      <th>dtype</th>
                      <th>shards</th>
                      <th>rows</th>
                      <th>size</th>
                      <th>mean norm</th>
                      <th>mean variance</th>
                      <th>max variance</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={m().hooks}>
                      {(h) => (
                        <tr data-testid={`hook-row-${h.hook}`}>
                          <td>
                            <code>{h.hook}</code>
                          </td>
                          <td>[{h.rowShape.join(' × ')}]</td>
                          <td>{h.dtype}</td>
                          <td>{h.shards}</td>
                          <td>{formatInt(h.rows)}</td>
                          <td>{formatBytes(h.bytes)}</td>
                          <td data-testid="mean-norm">{formatStat(h.stats.meanNorm)}</td>
                          <td>{formatStat(h.stats.meanVariance)}</td>
                          <td>{formatStat(h.stats.maxVariance)}</td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
                <div class="run-charts">
                  <For each={m().hooks}>
                    {(h) => (
                      <div class="run-chart">
                        <div class="chart-title">
                          <code>{h.hook}</code> per-dimension variance
                        </div>
                        <VarianceChart mean={h.variance.mean} max={h.variance.max} bucket={h.variance.bucket} d={h.d} testId={`variance-${h.hook}`} />
                      </div>
                    )}
                  </For>
                </div>
              </>
            )}
          </Show>
        )}
      </Show>
    </section>
  );
}

const STATUS_LABEL: Record<Extraction['status'], string> = {
  queued: 'queued',
  running: 'extracting',
  paused: 'paused',
  completed: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

function RunCard(props: { run: Extraction; store: ExtractionsStore; onDelete: (r: Extraction) => void }) {
  const r = () => props.run;
  const [open, setOpen] = createSignal(false);
  const [actionError, setActionError] = createSignal<string>();
  const [cancelling, setCancelling] = createSignal(false);
  const cancel = async () => {
    setCancelling(true);
    setActionError(undefined);
    try {
      await props.store.cancel(r());
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setCancelling(false);
    }
  };
  const p = () => r().progress;
  return (
    <article class="card run-card" data-testid={`extraction-${r().id}`} data-status={r().status}>
      <header class="model-head">
        <h3>
          {r().modelName ?? 'deleted model'} <span class="muted">on</span> {r().datasetName ?? 'deleted dataset'}
        </h3>
        <span class={`status status-${r().status}`} data-testid="run-status" data-status={r().status}>
          {STATUS_LABEL[r().status]}
        </span>
        <span class="muted run-time">{new Date(r().createdAt).toLocaleString()}</span>
        <div class="spacer" />
        <button type="button" onClick={() => setOpen(!open())} data-testid="toggle-detail">
          {open() ? 'Hide details' : 'Details'}
        </button>
        <Show when={isRunning(r().status)}>
          <button type="button" onClick={() => void cancel()} disabled={cancelling()} data-testid="cancel-run">
            {cancelling() ? 'Cancelling…' : 'Cancel'}
          </button>
        </Show>
        <button type="button" class="danger-outline" onClick={() => props.onDelete(r())} data-testid="delete-run">
          Delete
        </button>
      </header>
      <p class="run-hooks-line">
        <For each={r().hookPoints}>{(h) => <code class="hook-chip">{h}</code>}</For>
      </p>
      <p class="muted run-settings" data-testid="run-settings">
        {settingsLabel(r())}
      </p>
      <div class="progress-line">
        <ProgressBar value={tokensPercent(r())} label="tokens" testId="run-progress" tone={r().status === 'failed' ? 'bad' : r().status === 'cancelled' ? 'muted' : 'normal'} />
        <span class="progress-text" data-testid="run-progress-text">
          <Show when={p()} fallback={r().status === 'queued' ? 'waiting for a worker…' : ''}>
            {(q) => (
              <>
                {formatInt(q().tokensDone)} / {formatInt(q().tokensTotal)} tokens · {formatInt(q().rows)} rows · {q().shards} shards
                <Show when={r().status === 'running'}>
                  {' '}
                  · {q().phase === 'extracting' ? `${formatInt(q().tokensPerSecond)} tokens/s · ETA ${formatEta(q().etaSeconds)}` : `${q().phase}…`}
                </Show>
              </>
            )}
          </Show>
        </span>
      </div>
      <Show when={(p()?.fallbacks.length ?? 0) > 0}>
        <p class="muted run-fallback" data-testid="run-fallback">
          out of memory, fell back: {p()!.fallbacks.at(-1)}
        </p>
      </Show>
      <Show when={r().stats}>
        {(s) => (
          <dl class="model-facts run-stats" data-testid="run-stats">
            <For each={r().hookPoints.flatMap((h) => (s()[h] ? [[h, s()[h]!] as const] : []))}>
              {([hook, st]) => (
                <div>
                  <dt>
                    <code>{hook}</code>
                  </dt>
                  <dd>
                    mean norm {formatStat(st.meanNorm)} · mean variance {formatStat(st.meanVariance)} · {formatInt(st.count)} rows
                  </dd>
                </div>
              )}
            </For>
          </dl>
        )}
      </Show>
      <Show when={r().error}>
        <p class={r().status === 'failed' ? 'field-error' : 'muted'} data-testid="run-error">
          {r().error}
        </p>
      </Show>
      <Show when={actionError()}>
        <p class="field-error" role="alert">
          {actionError()}
        </p>
      </Show>
      <Show when={open()}>
        <RunDetail run={r()} />
      </Show>
    </article>
  );
}

export default function Extractions() {
  const store = createExtractionsStore();
  const [toDelete, setToDelete] = createSignal<Extraction>();
  return (
    <div class="page extractions-page">
      <header class="page-head">
        <h1>Extractions</h1>
        <span class="muted">{store.runs().length || ''}</span>
      </header>
      <NewExtractionForm store={store} />
      <Show when={store.error()}>
        {(err) => (
          <div class="error" role="alert">
            <b>Could not load the extractions:</b> {err().message} <button onClick={() => void store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <h2 class="section-title">History</h2>
      <Show when={!store.loading() || store.runs().length > 0} fallback={<p class="muted">Loading…</p>}>
        <Show when={store.runs().length > 0} fallback={<p class="muted" data-testid="no-runs">No extractions yet: start one above.</p>}>
          <div class="model-list" data-testid="run-list">
            <For each={store.runs()}>{(r) => <RunCard run={r} store={store} onDelete={setToDelete} />}</For>
          </div>
        </Show>
      </Show>
      <ConfirmDialog
        open={toDelete() !== undefined}
        title="Delete this extraction?"
        confirmLabel="Delete"
        danger
        onConfirm={async () => {
          const r = toDelete();
          if (r) await store.remove(r);
        }}
        onClose={() => setToDelete(undefined)}
      >
        <p>
          The run on <b>{toDelete()?.datasetName}</b> ({toDelete()?.hookPoints.join(', ')}) and its stored activations will be removed
          {toDelete() && isRunning(toDelete()!.status) ? ', and the run cancelled' : ''}. This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}
