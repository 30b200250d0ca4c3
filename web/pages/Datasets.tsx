/**
 * Datasets page: import a dataset repository from the Hugging Face hub or
 * upload a file (with upload progress and a size check before sending),
 * follow every import live (phase, bytes, documents, tokens, tokens/s, ETA
 * from `dataset/{id}`; after a reload, from the API), cancel or delete
 * datasets, and look into an imported one: its statistics (document lengths
 * as a histogram, most frequent tokens) and its documents token by token.
 */
import { createEffect, createSignal, For, Match, on, onCleanup, Show, Switch } from 'solid-js';
import type { Model } from '../../models/contracts/api.ts';
import type { Dataset, DatasetSample, DatasetStatsBody } from '../../models/contracts/datasets.ts';
import { errorMessage, fieldErrors } from '../api.ts';
import { datasetSourceLabel, formatInt, isActive, lengthBars, PHASE_LABEL, phasePercent, UPLOAD_ACCEPT, uploadProblem, visibleToken } from '../data/dataset-view.ts';
import { createDatasetsStore, loadSample, loadStats, loadTokenizerModels, type DatasetsStore, type UploadHandle } from '../data/datasets.ts';
import { formatEta, percent } from '../data/model-view.ts';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import { formatBytes, formatRate } from '../ui/format.ts';
import { LengthHistogram } from '../ui/LengthHistogram.tsx';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { TokenText } from '../ui/TokenText.tsx';
import './Datasets.css';

/** Documents per page of the sample browser. */
const SAMPLE_PAGE = 10;

function FieldError(props: { errors: Record<string, string>; field: string }) {
  return (
    <Show when={props.errors[props.field]}>
      <span class="field-error" data-testid={`error-${props.field}`}>
        {props.errors[props.field]}
      </span>
    </Show>
  );
}

/** The tokenizer choice: downloaded models, the default (demo) one first and preselected. */
function TokenizerSelect(props: { models: Model[]; value: string; onChange: (id: string) => void; errors: Record<string, string>; testId: string }) {
  return (
    <label class="field">
      <span>Tokenizer (model)</span>
      <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)} data-testid={props.testId}>
        <For each={props.models} fallback={<option value="">default model</option>}>
          {(m) => <option value={m.id}>{m.name}</option>}
        </For>
      </select>
      <FieldError errors={props.errors} field="tokenizerModelId" />
    </label>
  );
}

/** The hub import form; the server validates, and its messages appear beside their fields. */
function HubForm(props: { store: DatasetsStore; models: Model[] }) {
  const [repo, setRepo] = createSignal('');
  const [revision, setRevision] = createSignal('main');
  const [split, setSplit] = createSignal('train');
  const [column, setColumn] = createSignal('text');
  const [maxTokens, setMaxTokens] = createSignal('');
  const [model, setModel] = createSignal('');
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [failure, setFailure] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  createEffect(() => !model() && props.models[0] && setModel(props.models[0].id));

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFailure(undefined);
    try {
      const limit = maxTokens().trim();
      await props.store.importHub({
        source: { kind: 'hub', repo: repo().trim(), revision: revision().trim() || 'main', split: split().trim() || 'train', textColumn: column().trim() || 'text' },
        ...(model() ? { tokenizerModelId: model() } : {}),
        ...(limit ? { maxTokens: Number(limit) } : {}),
      });
      setRepo('');
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      if (Object.keys(fields).length === 0) setFailure(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card dataset-form" onSubmit={(e) => void submit(e)} data-testid="hub-form" novalidate>
      <h2>Import from the Hugging Face hub</h2>
      <Show when={failure()}>
        <div class="error" role="alert" data-testid="hub-error">
          {failure()}
        </div>
      </Show>
      <div class="form-row">
        <label class="field grow">
          <span>Dataset repository</span>
          <input placeholder="owner/name, e.g. Salesforce/wikitext" value={repo()} onInput={(e) => setRepo(e.currentTarget.value)} data-testid="hub-repo" autocomplete="off" spellcheck={false} />
          <FieldError errors={errors()} field="source.repo" />
          <FieldError errors={errors()} field="source" />
        </label>
        <label class="field narrow">
          <span>Revision</span>
          <input value={revision()} onInput={(e) => setRevision(e.currentTarget.value)} data-testid="hub-revision" spellcheck={false} />
          <FieldError errors={errors()} field="source.revision" />
        </label>
        <label class="field narrow">
          <span>Split</span>
          <input value={split()} onInput={(e) => setSplit(e.currentTarget.value)} data-testid="hub-split" spellcheck={false} />
          <FieldError errors={errors()} field="source.split" />
        </label>
      </div>
      <div class="form-row">
        <label class="field narrow">
          <span>Text column</span>
          <input value={column()} onInput={(e) => setColumn(e.currentTarget.value)} data-testid="hub-column" spellcheck={false} />
          <FieldError errors={errors()} field="source.textColumn" />
        </label>
        <TokenizerSelect models={props.models} value={model()} onChange={setModel} errors={errors()} testId="hub-tokenizer" />
        <label class="field narrow">
          <span>Max tokens</span>
          <input inputmode="numeric" placeholder="all" value={maxTokens()} onInput={(e) => setMaxTokens(e.currentTarget.value)} data-testid="hub-max-tokens" />
          <FieldError errors={errors()} field="maxTokens" />
        </label>
        <button type="submit" class="primary" disabled={busy()} data-testid="hub-submit">
          {busy() ? 'Adding…' : 'Import'}
        </button>
      </div>
      <p class="muted hint">Only the split's files are downloaded (parquet, JSON Lines, CSV or text). Private or gated repositories need HF_TOKEN on the worker.</p>
    </form>
  );
}

/** The upload form: a file checked against the server's limit, sent with a progress bar that can be stopped. */
function UploadForm(props: { store: DatasetsStore; models: Model[] }) {
  let input!: HTMLInputElement;
  const [file, setFile] = createSignal<File>();
  const [column, setColumn] = createSignal('text');
  const [model, setModel] = createSignal('');
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [failure, setFailure] = createSignal<string>();
  const [sent, setSent] = createSignal<{ sent: number; total: number }>();
  const [handle, setHandle] = createSignal<UploadHandle>();
  createEffect(() => !model() && props.models[0] && setModel(props.models[0].id));

  const problem = () => {
    const f = file();
    const max = props.store.uploadMaxBytes();
    return f && max !== undefined ? uploadProblem(f, max) : undefined;
  };

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const f = file();
    setErrors({});
    setFailure(undefined);
    if (!f) return setErrors({ filename: 'choose a file' });
    if (problem()) return;
    const h = props.store.upload(f, { textColumn: column().trim() || 'text', ...(model() ? { tokenizerModelId: model() } : {}) }, (s, total) => setSent({ sent: s, total }));
    setSent({ sent: 0, total: f.size });
    setHandle(h);
    try {
      await h.done;
      input.value = '';
      setFile(undefined);
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      if (Object.keys(fields).length === 0) setFailure(errorMessage(err));
    } finally {
      setHandle(undefined);
      setSent(undefined);
    }
  };

  return (
    <form class="card dataset-form" onSubmit={(e) => void submit(e)} data-testid="upload-form" novalidate>
      <h2>Upload a file</h2>
      <Show when={failure()}>
        <div class="error" role="alert" data-testid="upload-error">
          {failure()}
        </div>
      </Show>
      <div class="form-row">
        <label class="field grow">
          <span>File (.jsonl, .json, .csv, .tsv, .txt, .parquet, gzipped text, or a .zip of them)</span>
          <input
            ref={input}
            type="file"
            accept={UPLOAD_ACCEPT}
            onChange={(e) => {
              setFile(e.currentTarget.files?.[0]);
              setErrors({});
              setFailure(undefined);
            }}
            data-testid="upload-file"
          />
          <Show when={problem()}>
            <span class="field-error" data-testid="upload-problem">
              {problem()}
            </span>
          </Show>
          <FieldError errors={errors()} field="filename" />
          <FieldError errors={errors()} field="body" />
        </label>
        <label class="field narrow">
          <span>Text column</span>
          <input value={column()} onInput={(e) => setColumn(e.currentTarget.value)} data-testid="upload-column" spellcheck={false} />
          <FieldError errors={errors()} field="textColumn" />
        </label>
        <TokenizerSelect models={props.models} value={model()} onChange={setModel} errors={errors()} testId="upload-tokenizer" />
        <button type="submit" class="primary" disabled={handle() !== undefined || problem() !== undefined} data-testid="upload-submit">
          {handle() ? 'Uploading…' : 'Upload'}
        </button>
      </div>
      <Show when={sent()}>
        {(s) => (
          <div class="progress-line upload-progress">
            <ProgressBar value={percent(s().sent, s().total)} label="upload" testId="upload-progress" />
            <span class="progress-text">
              {percent(s().sent, s().total)} % · {formatBytes(s().sent)} of {formatBytes(s().total)}
            </span>
            <button type="button" onClick={() => handle()?.abort()} data-testid="upload-cancel">
              Stop
            </button>
          </div>
        )}
      </Show>
      <p class="muted hint">
        The file streams to the server{props.store.uploadMaxBytes() !== undefined ? ` (at most ${formatBytes(props.store.uploadMaxBytes()!)})` : ''}; a worker then reads and tokenizes it.
      </p>
    </form>
  );
}

/** Phase, bar and counters of a running (or just finished) import. */
function ImportProgress(props: { dataset: Dataset }) {
  const p = () => props.dataset.progress;
  return (
    <div class="import-progress">
      <Show when={p()} fallback={<p class="muted">Waiting for a worker…</p>}>
        {(prog) => (
          <div class="progress-line">
            <span class="phase" data-testid="import-phase">
              {props.dataset.status === 'completed' ? 'done' : PHASE_LABEL[prog().phase]}
            </span>
            <ProgressBar value={phasePercent(props.dataset)} label={prog().phase} testId="import-progress" tone={prog().bytesTotal > 0 || props.dataset.status === 'completed' ? 'normal' : 'muted'} />
            <span class="progress-text" data-testid="import-text">
              {prog().bytesTotal > 0 ? `${phasePercent(props.dataset)} % · ${formatBytes(prog().bytesDone)} of ${formatBytes(prog().bytesTotal)}` : formatBytes(prog().bytesDone)}
              <Show when={prog().phase === 'tokenizing'}>
                {' '}
                · {formatInt(prog().documents)} documents · {formatInt(prog().tokens)} tokens
              </Show>
              <Show when={props.dataset.status === 'running'}>
                {' '}
                · {prog().phase === 'tokenizing' ? `${formatInt(prog().tokensPerSecond)} tokens/s` : formatRate(prog().bytesPerSecond)} · ETA {formatEta(prog().etaSeconds)}
              </Show>
            </span>
          </div>
        )}
      </Show>
    </div>
  );
}

/** The first and last document of a page, 1-based, for "documents 11–20 of 1,272". */
function pageRange(page: DatasetSample): string {
  if (page.documents.length === 0) return `none of ${formatInt(page.total)}`;
  return `${formatInt(page.offset + 1)}–${formatInt(page.offset + page.documents.length)} of ${formatInt(page.total)}`;
}

/** A page of documents at a time, each shown token by token. */
function SampleBrowser(props: { dataset: Dataset; specialIds: Set<number> }) {
  const [offset, setOffset] = createSignal(0);
  const [state, setState] = createSignal<{ kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ok'; page: DatasetSample }>({ kind: 'loading' });
  createEffect(
    on(offset, (o) => {
      const ac = new AbortController();
      onCleanup(() => ac.abort());
      loadSample(props.dataset.id, o, SAMPLE_PAGE, ac.signal).then(
        (page) => setState({ kind: 'ok', page }),
        (err) => !ac.signal.aborted && setState({ kind: 'error', message: errorMessage(err) }),
      );
    }),
  );
  const total = () => props.dataset.stats?.documents ?? 0;
  return (
    <section class="sample-browser" data-testid="sample-browser">
      <div class="sample-nav">
        <h3>Documents</h3>
        <button type="button" disabled={offset() === 0} onClick={() => setOffset(Math.max(0, offset() - SAMPLE_PAGE))} data-testid="sample-prev">
          ← Previous
        </button>
        <button type="button" disabled={offset() + SAMPLE_PAGE >= total()} onClick={() => setOffset(offset() + SAMPLE_PAGE)} data-testid="sample-next">
          Next →
        </button>
        <Show when={(() => { const s = state(); return s.kind === 'ok' ? s.page : undefined; })()}>
          {(page) => (
            <span class="muted" data-testid="sample-range">
              documents {pageRange(page())}
            </span>
          )}
        </Show>
        <span class="muted hint-inline">Token boundaries alternate in colour; · is a space, ↵ a line break; hover a token for its id.</span>
      </div>
      <Switch>
        <Match when={state().kind === 'loading'}>
          <p class="muted">Loading documents…</p>
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'error' ? s : undefined; })()}>
          {(s) => (
            <p class="error" role="alert">
              Could not load the documents: {s().message}
            </p>
          )}
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'ok' ? s.page : undefined; })()}>
          {(page) => (
            <ol class="sample-docs">
              <For each={page().documents}>
                {(doc) => (
                  <li class="sample-doc" data-testid={`sample-doc-${doc.index}`}>
                    <div class="sample-doc-head muted">
                      #{doc.index} · {formatInt(doc.length)} tokens{doc.truncated ? ` (first ${formatInt(doc.ids.length)} shown)` : ''}
                    </div>
                    <TokenText ids={doc.ids} strings={doc.strings} special={(id) => props.specialIds.has(id)} />
                  </li>
                )}
              </For>
            </ol>
          )}
        </Match>
      </Switch>
    </section>
  );
}

/** Statistics, length histogram, top tokens and the sample browser of an imported dataset. */
function DatasetDetails(props: { dataset: Dataset }) {
  const [state, setState] = createSignal<{ kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ok'; stats: DatasetStatsBody }>({ kind: 'loading' });
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  loadStats(props.dataset.id, ac.signal).then(
    (stats) => setState({ kind: 'ok', stats }),
    (err) => !ac.signal.aborted && setState({ kind: 'error', message: errorMessage(err) }),
  );
  return (
    <section class="dataset-details" data-testid="dataset-details">
      <Switch>
        <Match when={state().kind === 'loading'}>
          <p class="muted">Loading the statistics…</p>
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'error' ? s : undefined; })()}>
          {(s) => (
            <p class="error" role="alert">
              Could not load the statistics: {s().message}
            </p>
          )}
        </Match>
        <Match when={(() => { const s = state(); return s.kind === 'ok' ? s.stats : undefined; })()}>
          {(stats) => {
            const s = stats();
            const facts: [string, string][] = [
              ['documents', formatInt(s.documents)],
              ['tokens', formatInt(s.tokens)],
              ['unique tokens', `${formatInt(s.uniqueTokens)} of ${formatInt(s.vocabSize)} (${((100 * s.uniqueTokens) / Math.max(1, s.vocabSize)).toFixed(1)} %)`],
              ['length mean', s.length.mean.toFixed(1)],
              ['median', formatInt(s.length.median)],
              ['p10 / p90 / p99', `${formatInt(s.length.p10)} / ${formatInt(s.length.p90)} / ${formatInt(s.length.p99)}`],
              ['min / max', `${formatInt(s.length.min)} / ${formatInt(s.length.max)}`],
              ...(s.skippedRows ? [['skipped rows', formatInt(s.skippedRows)] as [string, string]] : []),
              ...(s.emptyDocuments ? [['empty documents', formatInt(s.emptyDocuments)] as [string, string]] : []),
              ...(s.truncated ? [['truncated', 'yes: stopped at the document or token limit'] as [string, string]] : []),
            ];
            const specialIds = new Set(s.topTokens.filter((t) => t.special).map((t) => t.id));
            return (
              <>
                <dl class="dataset-stats" data-testid="dataset-stats">
                  <For each={facts}>
                    {([k, v]) => (
                      <div>
                        <dt>{k}</dt>
                        <dd data-testid={`stat-${k.replace(/[^a-z0-9]+/g, '-')}`}>{v}</dd>
                      </div>
                    )}
                  </For>
                </dl>
                <div class="dataset-charts">
                  <div class="histogram-panel">
                    <h3>Document lengths</h3>
                    <LengthHistogram bars={lengthBars(s.histogram)} />
                  </div>
                  <div class="top-tokens-panel">
                    <h3>Most frequent tokens</h3>
                    <div class="top-tokens-scroll">
                      <table class="top-tokens" data-testid="top-tokens">
                        <thead>
                          <tr>
                            <th>#</th>
                            <th>token</th>
                            <th>id</th>
                            <th>count</th>
                            <th>share</th>
                          </tr>
                        </thead>
                        <tbody>
                          <For each={s.topTokens}>
                            {(t, i) => (
                              <tr>
                                <td class="muted">{i() + 1}</td>
                                <td>
                                  <code class={`tok ${t.special ? 'tok-special' : 'tok-a'}`}>{visibleToken(t.text)}</code>
                                </td>
                                <td class="num">{t.id}</td>
                                <td class="num">{formatInt(t.count)}</td>
                                <td class="num">{(100 * t.fraction).toFixed(2)} %</td>
                              </tr>
                            )}
                          </For>
                        </tbody>
                      </table>
                    </div>
                  </div>
                </div>
                <SampleBrowser dataset={props.dataset} specialIds={specialIds} />
              </>
            );
          }}
        </Match>
      </Switch>
    </section>
  );
}

const STATUS_LABEL: Record<Dataset['status'], string> = {
  queued: 'queued',
  running: 'importing',
  paused: 'paused',
  completed: 'ready',
  failed: 'failed',
  cancelled: 'cancelled',
};

function DatasetCard(props: { dataset: Dataset; store: DatasetsStore; models: Model[]; onDelete: (d: Dataset) => void }) {
  const d = () => props.dataset;
  const [showDetails, setShowDetails] = createSignal(false);
  // An import watched on this page stays on screen at 100 % when it completes; after a reload it does not.
  const [watched, setWatched] = createSignal(false);
  createEffect(() => isActive(d().status) && setWatched(true));
  const showProgress = () => isActive(d().status) || (watched() && d().status === 'completed' && d().progress !== null);
  const [actionError, setActionError] = createSignal<string>();
  const [cancelling, setCancelling] = createSignal(false);
  const tokenizer = () => props.models.find((m) => m.id === d().tokenizerModelId)?.name ?? (d().tokenizerModelId ? 'a model' : 'deleted model');
  const cancel = async () => {
    setCancelling(true);
    setActionError(undefined);
    try {
      await props.store.cancel(d());
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setCancelling(false);
    }
  };
  return (
    <article class="card dataset-card" data-testid={`dataset-${d().id}`} data-name={d().name}>
      <header class="dataset-head">
        <h3>
          {d().name}
          <Show when={d().builtin}>
            <span class="badge muted-badge">built in</span>
          </Show>
        </h3>
        <span class={`status status-${d().status}`} data-testid="dataset-status" data-status={d().status}>
          {STATUS_LABEL[d().status]}
        </span>
        <div class="spacer" />
        <button type="button" onClick={() => setShowDetails(!showDetails())} disabled={d().status !== 'completed'} data-testid="toggle-details">
          {showDetails() ? 'Hide details' : 'Statistics & samples'}
        </button>
        <Show when={isActive(d().status) && d().jobId}>
          <button type="button" onClick={() => void cancel()} disabled={cancelling()} data-testid="cancel-import">
            {cancelling() ? 'Cancelling…' : 'Cancel'}
          </button>
        </Show>
        <Show when={!d().builtin}>
          <button type="button" class="danger-outline" onClick={() => props.onDelete(d())} data-testid="delete-dataset">
            Delete
          </button>
        </Show>
      </header>
      <dl class="dataset-facts">
        <div>
          <dt>source</dt>
          <dd data-testid="dataset-source">
            <code>{datasetSourceLabel(d().source)}</code>
          </dd>
        </div>
        <div>
          <dt>tokenizer</dt>
          <dd>{tokenizer()}</dd>
        </div>
        <div>
          <dt>documents</dt>
          <dd data-testid="dataset-documents">{d().stats ? formatInt(d().stats!.documents) : '–'}</dd>
        </div>
        <div>
          <dt>tokens</dt>
          <dd data-testid="dataset-tokens">{d().stats ? formatInt(d().stats!.tokens) : '–'}</dd>
        </div>
        <div>
          <dt>size</dt>
          <dd data-testid="dataset-size">{d().sizeBytes === null ? '–' : formatBytes(d().sizeBytes!)}</dd>
        </div>
      </dl>
      <Show when={d().error}>
        <p class={d().status === 'failed' ? 'field-error' : 'muted'} data-testid="dataset-error">
          {d().error}
        </p>
      </Show>
      <Show when={actionError()}>
        <p class="field-error" role="alert">
          {actionError()}
        </p>
      </Show>
      <Show when={showProgress()}>
        <ImportProgress dataset={d()} />
      </Show>
      <Show when={showDetails() && d().status === 'completed'}>
        <DatasetDetails dataset={d()} />
      </Show>
    </article>
  );
}

export default function Datasets() {
  const store = createDatasetsStore();
  const [models, setModels] = createSignal<Model[]>([]);
  const [modelsError, setModelsError] = createSignal<string>();
  loadTokenizerModels().then(setModels, (err) => setModelsError(errorMessage(err)));
  const [toDelete, setToDelete] = createSignal<Dataset>();
  return (
    <div class="page datasets-page">
      <header class="page-head">
        <h1>Datasets</h1>
        <span class="muted">{store.datasets().length || ''}</span>
      </header>
      <Show when={modelsError()}>
        <div class="error" role="alert">
          Could not load the models for the tokenizer choice: {modelsError()}. Imports use the default model.
        </div>
      </Show>
      <div class="dataset-forms">
        <HubForm store={store} models={models()} />
        <UploadForm store={store} models={models()} />
      </div>
      <Show when={store.error()}>
        {(err) => (
          <div class="error" role="alert">
            <b>Could not load the datasets:</b> {err().message} <button onClick={() => void store.reload()}>Retry</button>
          </div>
        )}
      </Show>
      <Show when={!store.loading() || store.datasets().length > 0} fallback={<p class="muted">Loading…</p>}>
        <Show when={store.datasets().length > 0} fallback={<p class="muted">No datasets yet: import one from the hub or upload a file above.</p>}>
          <div class="dataset-list" data-testid="dataset-list">
            <For each={store.datasets()}>{(d) => <DatasetCard dataset={d} store={store} models={models()} onDelete={setToDelete} />}</For>
          </div>
        </Show>
      </Show>
      <ConfirmDialog
        open={toDelete() !== undefined}
        title="Delete this dataset?"
        confirmLabel="Delete"
        danger
        onConfirm={async () => {
          const d = toDelete();
          if (d) await store.remove(d);
        }}
        onClose={() => setToDelete(undefined)}
      >
        <p>
          <b>{toDelete()?.name}</b> and its tokens ({toDelete()?.sizeBytes ? formatBytes(toDelete()!.sizeBytes!) : 'no files yet'}) will be removed
          {toDelete() && isActive(toDelete()!.status) ? ', and its import cancelled' : ''}; extractions made from it go too. This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}
