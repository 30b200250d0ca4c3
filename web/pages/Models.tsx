/**
 * Models page: download a model from the Hugging Face hub, follow every
 * download live (per file and overall, from `model/{id}`; after a reload,
 * from the API), cancel or delete models, and look at a model's
 * architecture and hook points.
 */
import { createSignal, For, Match, onCleanup, Show, Switch } from 'solid-js';
import { MODEL_DTYPES, type Model, type Architecture, type ModelDtype } from '../../models/contracts/api.ts';
import { errorMessage } from '../api.ts';
import { formatEta, isActive, percent, sourceLabel } from '../data/model-view.ts';
import { createModelsStore, loadArchitecture, type ModelsStore } from '../data/models.ts';
import { ArchitectureView } from '../ui/ArchitectureView.tsx';
import { ArtifactCard, createProgressShown } from '../ui/ArtifactCard.tsx';
import { ArtifactList } from '../ui/ArtifactList.tsx';
import { FieldError } from '../ui/FieldError.tsx';
import { formatBytes, formatRate } from '../ui/format.ts';
import { ProgressBar, ProgressLine } from '../ui/ProgressBar.tsx';
import { createServerForm, FormFailure } from '../ui/ServerForm.tsx';

/** The hub download form; the server validates, and its messages appear beside their fields. */
function DownloadForm(props: { store: ModelsStore }) {
  const [repo, setRepo] = createSignal('');
  const [revision, setRevision] = createSignal('main');
  const [dtype, setDtype] = createSignal<ModelDtype>('fp32');
  const server = createServerForm();
  const { errors, busy } = server;
  const submit = server.submit(async () => {
    await props.store.add({ source: { kind: 'hub', repo: repo().trim(), revision: revision().trim() || 'main' }, dtype: dtype() });
    setRepo('');
  });

  return (
    <form class="card download-form" onSubmit={(e) => void submit(e)} data-testid="download-form" novalidate>
      <h2>Download from the Hugging Face hub</h2>
      <FormFailure form={server} testId="download-error" />
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
            <ProgressLine value={percent(prog().bytesDone, prog().bytesTotal)} label="overall" testId="progress-overall" textTestId="progress-text">
              {percent(prog().bytesDone, prog().bytesTotal)} % · {formatBytes(prog().bytesDone)} of {formatBytes(prog().bytesTotal)}
              <Show when={props.model.status === 'running'}>
                {' '}
                · {formatRate(prog().bytesPerSecond)} · ETA {formatEta(prog().etaSeconds)}
              </Show>
            </ProgressLine>
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

function ModelCard(props: { model: Model; store: ModelsStore; onDelete: () => void }) {
  const m = () => props.model;
  const [showArch, setShowArch] = createSignal(false);
  const showProgress = createProgressShown(m, isActive);
  return (
    <ArtifactCard
      class="model-card"
      testId={`model-${m().id}`}
      dataName={m().name}
      title={
        <>
          {m().name}
          <Show when={m().default}>
            <span class="badge" title="Pages pick this model when none is chosen">
              default
            </span>
          </Show>
          <Show when={m().builtin}>
            <span class="badge muted-badge">built in</span>
          </Show>
        </>
      }
      status={m().status}
      statusLabel={STATUS_LABEL[m().status]}
      statusTestId="model-status"
      actions={
        <button type="button" onClick={() => setShowArch(!showArch())} disabled={m().status !== 'completed'} data-testid="toggle-architecture">
          {showArch() ? 'Hide architecture' : 'Architecture'}
        </button>
      }
      cancel={{ when: isActive(m().status) && Boolean(m().jobId), testId: 'cancel-download', run: () => props.store.cancel(m()) }}
      deletable={!m().builtin}
      onDelete={props.onDelete}
      deleteTestId="delete-model"
      body={
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
          <div title="the model's files on disk, in the dtype they store the weights in">
            <dt>files</dt>
            <dd data-testid="model-size">{m().sizeBytes === null ? '–' : formatBytes(m().sizeBytes!)}</dd>
          </div>
          <div title="the dtype the weights are loaded at for extractions, unless an extraction asks for another">
            <dt>loads as</dt>
            <dd data-testid="model-dtype">{m().dtype}</dd>
          </div>
        </dl>
      }
      error={m().error}
      errorTestId="model-error"
    >
      <Show when={showProgress()}>
        <DownloadProgress model={m()} />
      </Show>
      <Show when={showArch()}>
        <ArchitectureSection model={m()} />
      </Show>
    </ArtifactCard>
  );
}

export default function Models() {
  const store = createModelsStore();
  return (
    <div class="page models-page">
      <header class="page-head">
        <h1>Models</h1>
        <span class="muted">{store.models().length || ''}</span>
      </header>
      <DownloadForm store={store} />
      <ArtifactList
        items={store.models()}
        loading={store.loading()}
        error={store.error()}
        onRetry={() => void store.reload()}
        noun="models"
        empty={<p class="muted">No models yet: download one above.</p>}
        listClass="model-list"
        listTestId="model-list"
        deleteTitle="Delete this model?"
        onDelete={(m) => store.remove(m)}
        deleteText={(m) => (
          <p>
            <b>{m.name}</b> and its files ({m.sizeBytes ? formatBytes(m.sizeBytes) : 'no files yet'}) will be removed
            {isActive(m.status) ? ', and its download cancelled' : ''}. This cannot be undone.
          </p>
        )}
      >
        {(m, askDelete) => <ModelCard model={m} store={store} onDelete={askDelete} />}
      </ArtifactList>
    </div>
  );
}
