/**
 * Training page: start an SAE training on a completed extraction (hook
 * points, architecture with the fields it uses, size, optimiser, schedule;
 * defaults as the API applies them; load or save a template; the server's
 * messages beside their fields), follow every run live from `training/{id}`
 * (status with queue position, steps, tokens, tokens/s, ETA) with pause,
 * resume, stop, retry and delete, and open a run: d3 charts of every training
 * metric (one line per hook; history from the API merged with the live
 * batches), the latest feature-density histogram and CE-loss recovered per
 * hook, the checkpoints and the SAEs it produced, with their files.
 */
import { createEffect, createSignal } from 'solid-js';
import { isActive } from '../../data/training-view.ts';
import { createTrainingsStore } from '../../data/trainings.ts';
import { ArtifactList } from '../../ui/ArtifactList.tsx';
import { NewTrainingForm } from './NewTrainingForm.tsx';
import { RunCard } from './RunCard.tsx';
import './Training.css';

export default function TrainingPage() {
  const store = createTrainingsStore();
  const [open, setOpen] = createSignal<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  // The newest run is open when the page opens with nothing open (its charts are what one comes for).
  let opened = false;
  createEffect(() => {
    const first = store.runs()[0];
    if (opened || !first) return;
    opened = true;
    setOpen((s) => (s.size ? s : new Set([first.id])));
  });
  return (
    <div class="page training-page">
      <header class="page-head">
        <h1>Training</h1>
        <span class="muted">{store.runs().length || ''}</span>
      </header>
      <NewTrainingForm store={store} onStarted={(t) => setOpen((s) => new Set([...s, t.id]))} />
      <ArtifactList
        items={store.runs()}
        loading={store.loading()}
        error={store.error()}
        onRetry={() => void store.reload()}
        noun="trainings"
        title="Runs"
        empty={
          <p class="muted" data-testid="no-runs">
            No trainings yet: start one above.
          </p>
        }
        listClass="model-list"
        listTestId="run-list"
        deleteTitle="Delete this training?"
        onDelete={(r) => store.remove(r)}
        deleteText={(r) => (
          <p>
            <b>{r.name}</b>: its metric history and checkpoints will be removed{isActive(r.status) ? ', and the run cancelled' : ''}. The SAEs it produced stay. This cannot be undone.
          </p>
        )}
      >
        {(r, askDelete) => <RunCard run={r} store={store} open={open().has(r.id)} onToggle={() => toggle(r.id)} onDelete={askDelete} />}
      </ArtifactList>
    </div>
  );
}
