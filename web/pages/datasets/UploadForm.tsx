import { createEffect, createSignal, Show } from 'solid-js';
import type { Model } from '../../../models/contracts/api.ts';
import { UPLOAD_ACCEPT, uploadProblem } from '../../data/dataset-view.ts';
import type { DatasetsStore, UploadHandle } from '../../data/datasets.ts';
import { percent } from '../../data/model-view.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { formatBytes } from '../../ui/format.ts';
import { ProgressLine } from '../../ui/ProgressBar.tsx';
import { createServerForm, FormFailure } from '../../ui/ServerForm.tsx';
import { TokenizerSelect } from './TokenizerSelect.tsx';

/** The upload form: a file checked against the server's limit, sent with a progress bar that can be stopped. */
export function UploadForm(props: { store: DatasetsStore; models: Model[] }) {
  let input!: HTMLInputElement;
  const [file, setFile] = createSignal<File>();
  const [column, setColumn] = createSignal('text');
  const [model, setModel] = createSignal('');
  const server = createServerForm();
  const { errors, setErrors, setFailure } = server;
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
      server.fail(err);
    } finally {
      setHandle(undefined);
      setSent(undefined);
    }
  };

  return (
    <form class="card dataset-form" onSubmit={(e) => void submit(e)} data-testid="upload-form" novalidate>
      <h2>Upload a file</h2>
      <FormFailure form={server} testId="upload-error" />
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
          <ProgressLine
            class="upload-progress"
            value={percent(s().sent, s().total)}
            label="upload"
            testId="upload-progress"
            after={
              <button type="button" onClick={() => handle()?.abort()} data-testid="upload-cancel">
                Stop
              </button>
            }
          >
            {percent(s().sent, s().total)} % · {formatBytes(s().sent)} of {formatBytes(s().total)}
          </ProgressLine>
        )}
      </Show>
      <p class="muted hint">
        The file streams to the server{props.store.uploadMaxBytes() !== undefined ? ` (at most ${formatBytes(props.store.uploadMaxBytes()!)})` : ''}; a worker then reads and tokenizes it.
      </p>
    </form>
  );
}
