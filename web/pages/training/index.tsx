/**
 * Training page: start an SAE training on a completed extraction (hook
 * points, architecture with the fields it uses, size, optimiser, schedule;
 * defaults as the API applies them; load or save a template; the server's
 * messages beside their fields), follow every run live from `training/{id}`
 * (status with queue position, steps, tokens, tokens/s, ETA) with pause,
 * resume, stop, retry and delete, and open a run: d3 charts of every training
 * metric (one line per hook; history from the API merged with the live
 * batches), the latest feature-density histogram and CE-loss recovered per
 * hook, the checkpoints and the SAEs it produced, with their files. Runs
 * ticked go to the Compare page together; `?run=<id>` opens that run (the
 * Compare page's links).
 */
import { useNavigate, useSearchParams } from '@solidjs/router';
import { createEffect, createSignal, Show } from 'solid-js';
import { compareHref } from '../../data/compare-view.ts';
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
  // The run of the address (`?run=`) is opened and scrolled to once it is listed; else the newest run is open when the
  // page opens with nothing open (its charts are what one comes for).
  const [params] = useSearchParams<{ run?: string }>();
  let opened = false;
  let shown: string | undefined;
  createEffect(() => {
    const wanted = params.run;
    if (wanted && wanted !== shown && store.runs().some((r) => r.id === wanted)) {
      shown = wanted;
      opened = true;
      setOpen((s) => new Set([...s, wanted]));
      requestAnimationFrame(() => document.querySelector(`[data-testid="training-${CSS.escape(wanted)}"]`)?.scrollIntoView({ block: 'start' }));
      return;
    }
    const first = store.runs()[0];
    if (opened || !first || wanted) return;
    opened = true;
    setOpen((s) => (s.size ? s : new Set([first.id])));
  });
  // Runs ticked for the Compare page, in the order ticked; a deleted run drops out.
  const [ticked, setTicked] = createSignal<readonly string[]>([]);
  const tick = (id: string, on: boolean) => setTicked((t) => (on ? [...t.filter((x) => x !== id), id] : t.filter((x) => x !== id)));
  const tickedIds = () => ticked().filter((id) => store.runs().some((r) => r.id === id));
  const navigate = useNavigate();
  return (
    <div class="page training-page">
      <header class="page-head">
        <h1>Training</h1>
        <span class="muted">{store.runs().length || ''}</span>
      </header>
      <NewTrainingForm store={store} onStarted={(t) => setOpen((s) => new Set([...s, t.id]))} />
      {/* the list's title here, with the Compare bar under it */}
      <h2 class="section-title">Runs</h2>
      <Show when={store.runs().length > 1}>
        <div class="compare-bar" data-testid="compare-bar">
          <button type="button" class="primary" disabled={tickedIds().length < 2} onClick={() => navigate(compareHref({ ids: tickedIds() }))} data-testid="compare-runs">
            Compare ({tickedIds().length})
          </button>
          <span class="muted">{tickedIds().length < 2 ? 'Tick two runs or more to compare their settings, curves and final metrics.' : ''}</span>
          <Show when={tickedIds().length > 0}>
            <button type="button" onClick={() => setTicked([])} data-testid="compare-clear">
              Clear
            </button>
          </Show>
        </div>
      </Show>
      <ArtifactList
        items={store.runs()}
        loading={store.loading()}
        error={store.error()}
        onRetry={() => void store.reload()}
        noun="trainings"
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
        {(r, askDelete) => (
          <RunCard run={r} store={store} open={open().has(r.id)} onToggle={() => toggle(r.id)} onDelete={askDelete} ticked={ticked().includes(r.id)} onTick={(on) => tick(r.id, on)} />
        )}
      </ArtifactList>
    </div>
  );
}
