import { createEffect, createSignal } from 'solid-js';
import type { Model } from '../../../models/contracts/api.ts';
import type { DatasetsStore } from '../../data/datasets.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { createServerForm, FormFailure } from '../../ui/ServerForm.tsx';
import { TokenizerSelect } from './TokenizerSelect.tsx';

/** The hub import form; the server validates, and its messages appear beside their fields. */
export function HubForm(props: { store: DatasetsStore; models: Model[] }) {
  const [repo, setRepo] = createSignal('');
  const [revision, setRevision] = createSignal('main');
  const [split, setSplit] = createSignal('train');
  const [column, setColumn] = createSignal('text');
  const [maxTokens, setMaxTokens] = createSignal('');
  const [model, setModel] = createSignal('');
  const server = createServerForm();
  const { errors, busy } = server;
  createEffect(() => !model() && props.models[0] && setModel(props.models[0].id));

  const submit = server.submit(async () => {
    const limit = maxTokens().trim();
    await props.store.importHub({
      source: { kind: 'hub', repo: repo().trim(), revision: revision().trim() || 'main', split: split().trim() || 'train', textColumn: column().trim() || 'text' },
      ...(model() ? { tokenizerModelId: model() } : {}),
      ...(limit ? { maxTokens: Number(limit) } : {}),
    });
    setRepo('');
  });

  return (
    <form class="card dataset-form" onSubmit={(e) => void submit(e)} data-testid="hub-form" novalidate>
      <h2>Import from the Hugging Face hub</h2>
      <FormFailure form={server} testId="hub-error" />
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
