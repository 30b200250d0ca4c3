import { createSignal, Show } from 'solid-js';
import type { Model } from '../../../models/contracts/api.ts';
import type { Dataset } from '../../../models/contracts/datasets.ts';
import { datasetSourceLabel, formatInt, isActive, PHASE_LABEL, phasePercent } from '../../data/dataset-view.ts';
import type { DatasetsStore } from '../../data/datasets.ts';
import { formatEta } from '../../data/model-view.ts';
import { ArtifactCard, createProgressShown } from '../../ui/ArtifactCard.tsx';
import { formatBytes, formatRate } from '../../ui/format.ts';
import { ProgressLine } from '../../ui/ProgressBar.tsx';
import { DatasetDetails } from './DatasetDetails.tsx';

/** Phase, bar and counters of a running (or just finished) import. */
function ImportProgress(props: { dataset: Dataset }) {
  const p = () => props.dataset.progress;
  return (
    <div class="import-progress">
      <Show when={p()} fallback={<p class="muted">Waiting for a worker…</p>}>
        {(prog) => (
          <ProgressLine
            before={
              <span class="phase" data-testid="import-phase">
                {props.dataset.status === 'completed' ? 'done' : PHASE_LABEL[prog().phase]}
              </span>
            }
            value={phasePercent(props.dataset)}
            label={prog().phase}
            testId="import-progress"
            tone={prog().bytesTotal > 0 || props.dataset.status === 'completed' ? 'normal' : 'muted'}
            textTestId="import-text"
          >
            {prog().bytesTotal > 0 ? `${phasePercent(props.dataset)} % · ${formatBytes(prog().bytesDone)} of ${formatBytes(prog().bytesTotal)}` : formatBytes(prog().bytesDone)}
            <Show when={prog().phase === 'tokenizing'}>
              {' '}
              · {formatInt(prog().documents)} documents · {formatInt(prog().tokens)} tokens
            </Show>
            <Show when={props.dataset.status === 'running'}>
              {' '}
              · {prog().phase === 'tokenizing' ? `${formatInt(prog().tokensPerSecond)} tokens/s` : formatRate(prog().bytesPerSecond)} · ETA {formatEta(prog().etaSeconds)}
            </Show>
          </ProgressLine>
        )}
      </Show>
    </div>
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

/** A dataset: source, tokenizer, size, its import live, Cancel and Delete, and its statistics and documents on request. */
export function DatasetCard(props: { dataset: Dataset; store: DatasetsStore; models: Model[]; onDelete: () => void }) {
  const d = () => props.dataset;
  const [showDetails, setShowDetails] = createSignal(false);
  const showProgress = createProgressShown(d, isActive);
  const tokenizer = () => props.models.find((m) => m.id === d().tokenizerModelId)?.name ?? (d().tokenizerModelId ? 'a model' : 'deleted model');
  return (
    <ArtifactCard
      class="dataset-card"
      testId={`dataset-${d().id}`}
      dataName={d().name}
      headClass="dataset-head"
      title={
        <>
          {d().name}
          <Show when={d().builtin}>
            <span class="badge muted-badge">built in</span>
          </Show>
        </>
      }
      status={d().status}
      statusLabel={STATUS_LABEL[d().status]}
      statusTestId="dataset-status"
      actions={
        <button type="button" onClick={() => setShowDetails(!showDetails())} disabled={d().status !== 'completed'} data-testid="toggle-details">
          {showDetails() ? 'Hide details' : 'Statistics & samples'}
        </button>
      }
      cancel={{ when: isActive(d().status) && Boolean(d().jobId), testId: 'cancel-import', run: () => props.store.cancel(d()) }}
      deletable={!d().builtin}
      onDelete={props.onDelete}
      deleteTestId="delete-dataset"
      body={
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
      }
      error={d().error}
      errorTestId="dataset-error"
    >
      <Show when={showProgress()}>
        <ImportProgress dataset={d()} />
      </Show>
      <Show when={showDetails() && d().status === 'completed'}>
        <DatasetDetails dataset={d()} />
      </Show>
    </ArtifactCard>
  );
}
