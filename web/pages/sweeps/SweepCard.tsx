import { A } from '@solidjs/router';
import { Show } from 'solid-js';
import type { Sweep } from '../../../models/contracts/sweeps.ts';
import { formatMetric } from '../../data/metric-view.ts';
import { formatParams, isSweepActive, sweepHref, sweepPercent, sweepProgressText } from '../../data/sweep-view.ts';
import type { SweepsStore } from '../../data/sweeps.ts';
import { ArtifactCard } from '../../ui/ArtifactCard.tsx';
import { ProgressLine } from '../../ui/ProgressBar.tsx';

/** A sweep in the list: its name (a link to its page), status, objective, method, progress live, the best trial so far; Cancel and Delete. */
export function SweepCard(props: { sweep: Sweep; store: SweepsStore; onDelete: () => void }) {
  const s = () => props.sweep;
  const tone = () => (s().status === 'failed' ? 'bad' : s().status === 'cancelled' ? 'muted' : 'normal');
  return (
    <ArtifactCard
      class="sweep-card"
      testId={`sweep-${s().id}`}
      dataStatus={s().status}
      title={
        <A href={sweepHref(s().id)} data-testid="sweep-link">
          {s().name}
        </A>
      }
      status={s().status}
      statusLabel={s().status}
      statusTestId="sweep-status"
      createdAt={s().createdAt}
      cancel={{ when: isSweepActive(s().status), testId: 'cancel-sweep', run: async () => void (await props.store.cancel(s())) }}
      onDelete={props.onDelete}
      deleteTestId="delete-sweep"
      body={
        <>
          <p class="sweep-facts">
            <span data-testid="sweep-objective">{s().objectiveText}</span>
            <span class="muted">
              {' '}
              · {s().spec.method} · {s().modelName ?? 'deleted model'} on {s().datasetName ?? 'deleted dataset'} · <code class="hook-chip">{s().spec.hookPoint}</code>
            </span>
          </p>
          <ProgressLine value={sweepPercent(s())} label="trials" testId="sweep-progress" tone={tone()} textTestId="sweep-progress-text">
            {sweepProgressText(s())}
          </ProgressLine>
          <p class="sweep-best" data-testid="sweep-best">
            <Show when={s().progress.best} fallback={<span class="muted">no completed trial yet</span>}>
              {(b) => (
                <>
                  best <b>{formatMetric(s().spec.objective.metric, b().value)}</b> <span class="muted">(trial #{b().number}: {formatParams(b().params, Object.keys(s().spec.space))})</span>
                </>
              )}
            </Show>
          </p>
        </>
      }
      error={s().error}
      errorTestId="sweep-job-error"
    />
  );
}
