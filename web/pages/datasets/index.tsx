/**
 * Datasets page: import a dataset repository from the Hugging Face hub or
 * upload a file (with upload progress and a size check before sending),
 * follow every import live (phase, bytes, documents, tokens, tokens/s, ETA
 * from `dataset/{id}`; after a reload, from the API), cancel or delete
 * datasets, and look into an imported one: its statistics (document lengths
 * as a histogram, most frequent tokens) and its documents token by token.
 */
import { createSignal, Show } from 'solid-js';
import type { Model } from '../../../models/contracts/api.ts';
import { errorMessage } from '../../api.ts';
import { isActive } from '../../data/dataset-view.ts';
import { createDatasetsStore, loadTokenizerModels } from '../../data/datasets.ts';
import { ArtifactList } from '../../ui/ArtifactList.tsx';
import { formatBytes } from '../../ui/format.ts';
import { DatasetCard } from './DatasetCard.tsx';
import { HubForm } from './HubForm.tsx';
import { UploadForm } from './UploadForm.tsx';
import './Datasets.css';

export default function Datasets() {
  const store = createDatasetsStore();
  const [models, setModels] = createSignal<Model[]>([]);
  const [modelsError, setModelsError] = createSignal<string>();
  loadTokenizerModels().then(setModels, (err) => setModelsError(errorMessage(err)));
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
      <ArtifactList
        items={store.datasets()}
        loading={store.loading()}
        error={store.error()}
        onRetry={() => void store.reload()}
        noun="datasets"
        empty={<p class="muted">No datasets yet: import one from the hub or upload a file above.</p>}
        listClass="dataset-list"
        listTestId="dataset-list"
        deleteTitle="Delete this dataset?"
        onDelete={(d) => store.remove(d)}
        deleteText={(d) => (
          <p>
            <b>{d.name}</b> and its tokens ({d.sizeBytes ? formatBytes(d.sizeBytes) : 'no files yet'}) will be removed
            {isActive(d.status) ? ', and its import cancelled' : ''}; extractions made from it go too. This cannot be undone.
          </p>
        )}
      >
        {(d, askDelete) => <DatasetCard dataset={d} store={store} models={models()} onDelete={askDelete} />}
      </ArtifactList>
    </div>
  );
}
