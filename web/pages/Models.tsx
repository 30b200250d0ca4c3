/**
 * Models page: download a model from the Hugging Face hub, follow every
 * download live (per file and overall, from `model/{id}`; after a reload,
 * from the API), cancel or delete models, and look at a model's
 * architecture and hook points.
 */
import { createEffect, createSignal, For, Match, onCleanup, Show, Switch } from 'solid-js';
import { MODEL_DTYPES, type Model, type Architecture, type ModelDtype } from '../../models/contracts/api.ts';
import { errorMessage, fieldErrors } from '../api.ts';
import { formatEta, isActive, percent, sourceLabel } from '../data/model-view.ts';
import { createModelsStore, loadArchitecture, type ModelsStore } from '../data/models.ts';
import { ArchitectureView } from '../ui/ArchitectureView.tsx';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import { formatBytes, formatRate } from '../ui/format.ts';
import { ProgressBar } from '../ui/ProgressBar.tsx';

function FieldError(props: { errors: Record<string, string>; field: string }) {
  return (
    <Show when={props.errors[props.field]}>
      <span class="field-error" data-testid={`error-${props.field}`}>
        {props.errors[props.field]}
      </span>
    </Show>
  );
}

/** The hub download form; the server validates, and its messages appear beside their fields. */
function DownloadForm(props: { store: ModelsStore }) {
  const [repo, setRepo] = createSignal('');
  const [revision, setRevision] = createSignal('main');
  const [dtype, setDtype] = createSignal<ModelDtype>('fp32');
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [failure, setFailure] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFailure(undefined);
    try {
      await props.store.add({ source: { kind: 'hub', repo: repo().trim(), revision: revision().trim() || 'main' }, dtype: dtype() });
      setRepo('');
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      // A message with no field to sit beside (server down, queue unavailable) goes above the form.
      if (Object.keys(fields).length === 0) setFailure(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card download-form" onSubmit={(e) => void submit(e)} data-testid="download-form" novalidate>
      <h2>Download from the Hugging Face hub</h2>
      <Show when={failure()}>
        <div class="error" role="alert" data-testid="download-error">
          {failure()}
        </div>
      </Show>
      <div class="form-row">
        <label class="field grow">
          <span>Repository</span>
          <input
            name="repo"
            placeholder="owner/name, e.g. openai-community/gpt2"
            value={repo()}
            onInput={(e) => setRepo(e.currentTarget.value)}
            data-testid="repo-input"
            autocomplete="off"
            spellcheck={false}
          />
          <FieldError errors={errors()} field="source.repo" />
          <FieldError errors={errors()} field="source" />
        </label>
        <label class="field">
          <span>Revision</span>
          <input name="revision" value={revision()} onInput={(e) => setRevision(e.currentTarget.value)} data-testid="revision-input" spellcheck={false} />
          <FieldError errors={errors()} field="source.revision" />
        </label>
        <label class="field">
          <span>Default dtype</span>
          <select name="dtype" value={dtype()} onChange={(e) => setDtype(e.currentTarget.value as ModelDtype)} data-testid="dtype-select">
            <For each={MODEL_DTYPES}>{(d) => <option value={d}>{d}</option>}</For>
          </select>
          <FieldError errors={errors()} field="dtype" />
        </label>
        <button type="submit" class="primary" disabled={busy()} data-testid="download-submit">
          {busy() ? 'Adding…' : 'Download'}
        </button>
      </div>
      <p class="muted hint">Only config, tokenizer and safetensors files are fetched. Private or gated repositories need HF_TOKEN on the worker.</p>
    </form>
  );
}

/** Overall and per-file progress of a download. */
function DownloadProgress(props: { model: Model }) {
  const p = () => props.model.progress;
  return (
    <div class="download-progress">
      <Show when={p()} fallback={<p class="muted">Waiting for a worker…</p>}>
        {(prog) => (
          <>
            <div class="progress-line">
              <ProgressBar value={percent(prog().bytesDone, prog().bytesTotal)} label="overall" testId="progress-overall" />
              <span class="progress-text" data-testid="progress-text">
                {percent(prog().bytesDone, prog().bytesTotal)} % · {formatBytes(prog().bytesDone)} of {formatBytes(prog().bytesTotal)}
                <Show when={props.model.status === 'running'}>
                  {' '}
                  · {formatRate(prog().bytesPerSecond)} · ETA {formatEta(prog().etaSeconds)}
                </Show>
              </span>
            </div>
            <ul class="file-progress">
              <For each={prog().files}>
                {(f) => (
                  <li data-testid={`file-${f.path}`}>
                    <code>{f.path}</code>
                    <ProgressBar value={percent(f.bytes, f.total)} label={f.path} tone={f.bytes >= f.total ? 'muted' : 'normal'} />
                    <span class="muted">{formatBytes(f.total)}</span>
                  </li>
                )}
              </For>
            </ul>
          </>
        )}
      </Show>
    </div>
  );
}

/**
 * ARCHITECTURE VIEW — fetches `GET /api/models/{id}/architecture` when opened.
 * A 404 (no such endpoint or model) or 409 (files not in, or unreadable) shows
 * an honest empty state with the server's reason rather than an error.
 */
function ArchitectureSection(props: { model: Model }) {
  // Plain signals rather than a resource: reading a pending resource would suspend the whole page.
  const [state, setState] = createSignal<{ kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'none'; message: string } | { kind: 'ok'; arch: Architecture }>({ kind: 'loading' });
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  loadArchitecture(props.model.id, ac.signal).then(
    (arch) => setState('none' in arch ? { kind: 'none', message: arch.none } : { kind: 'ok', arch }),
    (err) => !ac.signal.aborted && setState({ kind: 'error', message: errorMessage(err) }),
  );
  return (
    <section class="arch-section" data-testid="architecture-section">
      <Switch>
        <Match when={state().kind === 'loading'}>
          <p class="muted">Loading the architecture…</p>
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'error' ? s : undefined; })()}>
          {(s) => (
            <p class="error" role="alert">
              Could not load the architecture: {s().message}
            </p>
          )}
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'none' ? s : undefined; })()}>
          {(s) => (
            <p class="muted" data-testid="architecture-empty">
              No architecture view for this model: {s().message}.
            </p>
          )}
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'ok' ? s.arch : undefined; })()}>
          {(a) => <ArchitectureView arch={a()} dtype={props.model.dtype} />}
        </Match>
      </Switch>
    </section>
  );
}

const STATUS_LABEL: Record<Model['status'], string> = {
  queued: 'queued',
  running: 'downloading',
  paused: 'paused',
  completed: 'ready',
  failed: 'failed',
  cancelled: 'cancelled',
};

function ModelCard(props: { model: Model; store: ModelsStore; onDelete: (m: Model) => void }) {
  const m = () => props.model;
  const [showArch, setShowArch] = createSignal(false);
  // A download watched on this page stays on screen at 100 % when it completes; after a reload it does not.
  const [watched, setWatched] = createSignal(false);
  createEffect(() => isActive(m().status) && setWatched(true));
  const showProgress = () => isActive(m().status) || (watched() && m().status === 'completed' && m().progress !== null);
  const [actionError, setActionError] = createSignal<string>();
  const [cancelling, setCancelling] = createSignal(false);
  const cancel = async () => {
    setCancelling(true);
    setActionError(undefined);
    try {
      await props.store.cancel(m());
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setCancelling(false);
    }
  };
  return (
    <article class="card model-card" data-testid={`model-${m().id}`} data-name={m().name}>
      <header class="model-head">
        <h3>
          {m().name}
          <Show when={m().default}>
            <span class="badge" title="Pages pick this model when none is chosen">
              default
            </span>
          </Show>
          <Show when={m().builtin}>
            <span class="badge muted-badge">built in</span>
          </Show>
        </h3>
        <span class={`status status-${m().status}`} data-testid="model-status" data-status={m().status}>
          {STATUS_LABEL[m().status]}
        </span>
        <div class="spacer" />
        <button type="button" onClick={() => setShowArch(!showArch())} disabled={m().status !== 'completed'} data-testid="toggle-architecture">
          {showArch() ? 'Hide architecture' : 'Architecture'}
        </button>
        <Show when={isActive(m().status) && m().jobId}>
          <button type="button" onClick={() => void cancel()} disabled={cancelling()} data-testid="cancel-download">
            {cancelling() ? 'Cancelling…' : 'Cancel'}
          </button>
        </Show>
        <Show when={!m().builtin}>
          <button type="button" class="danger-outline" onClick={() => props.onDelete(m())} data-testid="delete-model">
            Delete
          </button>
        </Show>
      </header>
      <dl class="model-facts">
        <div>
          <dt>source</dt>
          <dd data-testid="model-source">
            {m().source.kind === 'hub' ? 'hub: ' : 'folder: '}
            <code>{sourceLabel(m().source)}</code>
          </dd>
        </div>
        <div>
          <dt>architecture</dt>
          <dd data-testid="model-architecture">{m().architecture ?? '–'}</dd>
        </div>
        <div>
          <dt>size</dt>
          <dd data-testid="model-size">{m().sizeBytes === null ? '–' : formatBytes(m().sizeBytes!)}</dd>
        </div>
        <div>
          <dt>dtype</dt>
          <dd data-testid="model-dtype">{m().dtype}</dd>
        </div>
      </dl>
      <Show when={m().error}>
        <p class={m().status === 'failed' ? 'field-error' : 'muted'} data-testid="model-error">
          {m().error}
        </p>
      </Show>
      <Show when={actionError()}>
        <p class="field-error" role="alert">
          {actionError()}
        </p>
      </Show>
      <Show when={showProgress()}>
        <DownloadProgress model={m()} />
      </Show>
      <Show when={showArch()}>
        <ArchitectureSection model={m()} />
      </Show>
    </article>
  );
}

export default function Models() {
  const store = createModelsStore();
  const [toDelete, setToDelete] = createSignal<Model>();
  return (
    <div class="page models-page">
      <header class="page-head">
        <h1>Models</h1>
        <span class="muted">{store.models().length || ''}</span>
      </header>
      <DownloadForm store={store} />
      <Show when={store.error()}>
        {(err) => (
          <div class="error" role="alert">
            <b>Could not load the models:</b> {err().message} <button onClick={() => void store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <Show when={!store.loading() || store.models().length > 0} fallback={<p class="muted">Loading…</p>}>
        <Show when={store.models().length > 0} fallback={<p class="muted">No models yet: download one above.</p>}>
          <div class="model-list" data-testid="model-list">
            <For each={store.models()}>{(m) => <ModelCard model={m} store={store} onDelete={setToDelete} />}</For>
          </div>
        </Show>
      </Show>
      <ConfirmDialog
        open={toDelete() !== undefined}
        title="Delete this model?"
        confirmLabel="Delete"
        danger
        onConfirm={async () => {
          const m = toDelete();
          if (m) await store.remove(m);
        }}
        onClose={() => setToDelete(undefined)}
      >
        <p>
          <b>{toDelete()?.name}</b> and its files ({toDelete()?.sizeBytes ? formatBytes(toDelete()!.sizeBytes!) : 'no files yet'}) will be removed
          {toDelete() && isActive(toDelete()!.status) ? ', and its download cancelled' : ''}. This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}
