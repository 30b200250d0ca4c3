/**
 * Extractions page: start an extraction (model, dataset, hook points picked
 * by block from the model's architecture, dtypes, context, batch, token
 * budget; load or save a template), follow every run live (tokens, tokens/s,
 * ETA, from `extraction/{id}`; after a reload, from the API), look at what a
 * run stored (per hook: shape, shards, rows, statistics, and the
 * per-dimension variance as a d3 chart), cancel and delete runs.
 */
import { createExtractionsStore } from '../../data/extractions.ts';
import { isRunning } from '../../data/extraction-view.ts';
import { ArtifactList } from '../../ui/ArtifactList.tsx';
import { NewExtractionForm } from './NewExtractionForm.tsx';
import { RunCard } from './RunCard.tsx';

export default function Extractions() {
  const store = createExtractionsStore();
  return (
    <div class="page extractions-page">
      <header class="page-head">
        <h1>Extractions</h1>
        <span class="muted">{store.runs().length || ''}</span>
      </header>
      <NewExtractionForm store={store} />
      <ArtifactList
        items={store.runs()}
        loading={store.loading()}
        error={store.error()}
        onRetry={() => void store.reload()}
        noun="extractions"
        title="History"
        empty={
          <p class="muted" data-testid="no-runs">
            No extractions yet: start one above.
          </p>
        }
        listClass="model-list"
        listTestId="run-list"
        deleteTitle="Delete this extraction?"
        onDelete={(r) => store.remove(r)}
        deleteText={(r) => (
          <p>
            The run on <b>{r.datasetName}</b> ({r.hookPoints.join(', ')}) and its stored activations will be removed
            {isRunning(r.status) ? ', and the run cancelled' : ''}. This cannot be undone.
          </p>
        )}
      >
        {(r, askDelete) => <RunCard run={r} store={store} onDelete={askDelete} />}
      </ArtifactList>
    </div>
  );
}
