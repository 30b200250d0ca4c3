/**
 * Sweeps page: hyperparameter sweeps over SAE trainings. Without an id, the
 * sweeps newest first (status, trials ended of the budget, running and
 * pruned, the best objective so far; live from `sweep/{id}`) and the form
 * that starts one. With `?id=<sweep>`, that sweep live (SweepView.tsx): its
 * progress, the best trial and what it can become, the objective over
 * trials, each setting's importance, the parallel-coordinates chart and the
 * sortable trials table.
 */
import { useNavigate, useSearchParams } from '@solidjs/router';
import { Show } from 'solid-js';
import { isSweepActive, sweepHref } from '../../data/sweep-view.ts';
import { createSweepsStore } from '../../data/sweeps.ts';
import { ArtifactList } from '../../ui/ArtifactList.tsx';
import { NewSweepForm } from './NewSweepForm.tsx';
import { SweepCard } from './SweepCard.tsx';
import { SweepView } from './SweepView.tsx';
import './Sweeps.css';

/** The list of sweeps and the new-sweep form. */
function SweepList() {
  const store = createSweepsStore();
  const navigate = useNavigate();
  return (
    <div class="page sweeps-page">
      <header class="page-head">
        <h1>Sweeps</h1>
        <span class="muted">{store.sweeps().length || ''}</span>
      </header>
      <NewSweepForm store={store} onStarted={(s) => navigate(sweepHref(s.id))} />
      <ArtifactList
        title="All sweeps"
        items={store.sweeps()}
        loading={store.loading()}
        error={store.error()}
        onRetry={() => void store.reload()}
        noun="sweeps"
        empty={
          <p class="muted" data-testid="no-sweeps">
            No sweeps yet: start one above.
          </p>
        }
        listClass="model-list"
        listTestId="sweep-list"
        deleteTitle="Delete this sweep?"
        onDelete={(s) => store.remove(s)}
        deleteText={(s) => (
          <p>
            <b>{s.name}</b> and its trials will be removed{isSweepActive(s.status) ? ', and the sweep cancelled with its running trainings' : ''}. The trials' trainings and SAEs stay. This cannot be undone.
          </p>
        )}
      >
        {(s, askDelete) => <SweepCard sweep={s} store={store} onDelete={askDelete} />}
      </ArtifactList>
    </div>
  );
}

/** The page: one sweep when the address names it (`?id=`), else the list and the form. */
export default function SweepsPage() {
  const [params] = useSearchParams<{ id?: string }>();
  return (
    <Show when={params.id} keyed fallback={<SweepList />}>
      {(id) => <SweepView id={id} />}
    </Show>
  );
}
