import { A, useNavigate } from '@solidjs/router';
import { createMemo, createResource, createSignal, Show } from 'solid-js';
import type { SweepDetail, SweepTrial } from '../../../models/contracts/sweeps.ts';
import { formatMetric } from '../../data/metric-view.ts';
import { formatParams, isSweepActive, sweepPercent, sweepProgressText, type TrialSort } from '../../data/sweep-view.ts';
import { createSweepDetailStore } from '../../data/sweeps.ts';
import { formatInt } from '../../data/training-view.ts';
import { loadExtraction } from '../../data/trainings.ts';
import { createCardAction } from '../../ui/ArtifactCard.tsx';
import { DeleteDialog } from '../../ui/DeleteDialog.tsx';
import { ProgressLine } from '../../ui/ProgressBar.tsx';
import { ImportanceBars } from './ImportanceBars.tsx';
import { ObjectiveChart } from './ObjectiveChart.tsx';
import { ParallelCoordinates } from './ParallelCoordinates.tsx';
import { TrialDialog, type TrialAction, type TrialOutcome } from './TrialDialog.tsx';
import { TrialsTable } from './TrialsTable.tsx';

/**
 * One sweep, live: its name, status, objective in words, progress and
 * Cancel / Delete; the best trial with what it can become (a training
 * template, a full-length training); the objective over trials, each
 * setting's importance, the parallel-coordinates chart and the trials table.
 * The table's order and the trial hovered (shared by the table and the
 * charts) are the page's, so live updates keep them.
 */
export function SweepView(props: { id: string }) {
  const store = createSweepDetailStore(props.id);
  const navigate = useNavigate();
  const [sort, setSort] = createSignal<TrialSort>({ key: 'number', desc: false });
  const [hovered, setHovered] = createSignal<number>();
  const [action, setAction] = createSignal<TrialAction>();
  const [outcome, setOutcome] = createSignal<TrialOutcome>();
  const [deleting, setDeleting] = createSignal<SweepDetail>();
  const cancel = createCardAction<'cancel'>();

  // What "full length" is prefilled with: one pass over the stored rows of the sweep's hook (the trainer's default),
  // or the trials' own length when that is longer.
  const extractionId = createMemo(() => store.detail()?.extractionId);
  const [extraction] = createResource(extractionId, (id) => loadExtraction(id).catch(() => undefined));
  const fullLength = () => {
    const rows = extraction()?.manifest?.hooks.find((h) => h.hook === store.detail()?.spec.hookPoint)?.rows;
    const trial = store.detail()?.spec.base.totalTokens;
    return rows === undefined ? trial : Math.max(rows, trial ?? 0);
  };

  const act = (kind: TrialAction['kind'], trial: Pick<SweepTrial, 'number' | 'params'>) => {
    setOutcome(undefined);
    setAction({ kind, trial });
  };

  return (
    <div class="page sweep-page" data-testid="sweep-page">
      <p class="back-link">
        <A href="/sweeps">← All sweeps</A>
      </p>
      <Show when={store.missing()}>
        <div class="error" role="alert" data-testid="sweep-missing">
          There is no sweep {props.id}: it may have been deleted. <A href="/sweeps">See the sweeps</A>.
        </div>
      </Show>
      <Show when={store.error()}>
        <div class="error" role="alert" data-testid="sweep-load-error">
          {store.error()} <button onClick={() => void store.reload()}>Retry</button>
        </div>
      </Show>
      <Show when={!store.detail() && !store.missing() && !store.error()}>
        <p class="muted">Loading…</p>
      </Show>
      <Show when={store.detail()}>
        {(d) => {
          const keys = createMemo(() => Object.keys(d().spec.space));
          const objective = () => d().spec.objective;
          const best = () => d().trials.find((t) => t.best);
          const tone = () => (d().status === 'failed' ? 'bad' : d().status === 'cancelled' ? 'muted' : 'normal');
          return (
            <>
              <header class="page-head sweep-head">
                <h1 data-testid="sweep-name">{d().name}</h1>
                <span class={`status status-${d().status}`} data-testid="sweep-status" data-status={d().status}>
                  {d().status}
                </span>
                <div class="spacer" />
                <Show when={isSweepActive(d().status)}>
                  <button type="button" onClick={() => void cancel.run('cancel', () => store.cancel())} disabled={cancel.busy() !== undefined} data-testid="cancel-sweep">
                    {cancel.busy() ? 'Cancelling…' : 'Cancel'}
                  </button>
                </Show>
                <button type="button" class="danger-outline" onClick={() => setDeleting(() => d())} data-testid="delete-sweep">
                  Delete
                </button>
              </header>
              <p class="sweep-objective" data-testid="sweep-objective">
                {d().objectiveText}
              </p>
              <p class="muted sweep-facts" data-testid="sweep-facts">
                {d().spec.method} · budget {formatInt(d().spec.budget)} · {formatInt(d().spec.parallelism)} at once · seed {d().spec.seed} ·{' '}
                {d().spec.pruner.enabled ? `pruning after step ${formatInt(d().spec.pruner.warmupSteps)} once ${d().spec.pruner.minTrials} trials are done` : 'no pruning'} · {d().modelName ?? 'deleted model'} on{' '}
                {d().datasetName ?? 'deleted dataset'} · <code class="hook-chip">{d().spec.hookPoint}</code>
              </p>
              <ProgressLine value={sweepPercent(d())} label="trials ended" testId="sweep-progress" tone={tone()} textTestId="sweep-progress-text" class="sweep-progress">
                {sweepProgressText(d())}
              </ProgressLine>
              <Show when={d().error}>
                <p class={d().status === 'failed' ? 'field-error' : 'muted'} data-testid="sweep-job-error">
                  {d().error}
                </p>
              </Show>
              <Show when={cancel.error()}>
                <p class="field-error" role="alert">
                  {cancel.error()}
                </p>
              </Show>

              <section class="card best-trial" aria-labelledby="best-title" data-testid="best-trial">
                <h2 id="best-title">Best trial</h2>
                <Show when={best()} fallback={<p class="muted">None yet: the best is the completed trial with the best objective that keeps the constraints.</p>}>
                  {(b) => (
                    <div class="best-line-row">
                      <span>
                        <b data-testid="best-number">#{b().number}</b> · {formatParams(b().params, keys())} · {formatMetric(objective().metric, b().objective)}
                      </span>
                      <span class="best-actions">
                        <button type="button" onClick={() => act('template', b())} data-testid="best-to-template">
                          → new template
                        </button>
                        <button type="button" onClick={() => act('train', b())} data-testid="best-to-train">
                          → train at full length
                        </button>
                      </span>
                    </div>
                  )}
                </Show>
                <Show when={outcome()}>
                  {(o) => (
                    <p class="trial-note" role="status" data-testid="trial-note">
                      {o().text} <A href={o().href}>{o().linkText}</A>
                    </p>
                  )}
                </Show>
              </section>

              <div class="sweep-charts">
                <section class="card" aria-labelledby="objective-title">
                  <h2 id="objective-title">Objective over trials</h2>
                  <ObjectiveChart trials={d().trials} metric={objective().metric} direction={objective().direction} budget={d().spec.budget} keys={keys()} hovered={hovered()} onHover={setHovered} />
                </section>
                <section class="card" aria-labelledby="importance-title">
                  <h2 id="importance-title">What mattered</h2>
                  <p class="muted importance-help">Share of the completed trials' score variance each setting explains.</p>
                  <ImportanceBars importance={d().importance} keys={keys()} completed={d().progress.completed} />
                </section>
              </div>

              <section class="card pc-card" aria-labelledby="pc-title">
                <h2 id="pc-title">Settings against the objective</h2>
                <ParallelCoordinates space={d().spec.space} trials={d().trials} metric={objective().metric} direction={objective().direction} hovered={hovered()} onHover={setHovered} />
              </section>

              <h2 class="section-title" id="trials-title">
                Trials <span class="muted">{d().trials.length || ''}</span>
              </h2>
              <Show when={d().trials.length > 0} fallback={<p class="muted">{isSweepActive(d().status) ? 'The first trials are being proposed…' : 'No trials.'}</p>}>
                <TrialsTable sweep={d()} sort={sort()} onSort={setSort} hovered={hovered()} onHover={setHovered} onAction={act} />
              </Show>

              <TrialDialog
                action={action()}
                sweepName={d().name}
                keys={keys()}
                fullLength={fullLength()}
                onClose={() => setAction(undefined)}
                toTemplate={(n, name) => store.toTemplate(n, name)}
                train={(n, body) => store.train(n, body)}
                onDone={setOutcome}
              />
            </>
          );
        }}
      </Show>
      <DeleteDialog
        item={deleting()}
        title="Delete this sweep?"
        onDelete={async () => {
          await store.remove();
          navigate('/sweeps');
        }}
        onClose={() => setDeleting(undefined)}
      >
        {(s) => (
          <p>
            <b>{s.name}</b> and its trials will be removed{isSweepActive(s.status) ? ', and the sweep cancelled with its running trainings' : ''}. The trials' trainings and SAEs stay. This cannot be undone.
          </p>
        )}
      </DeleteDialog>
    </div>
  );
}
