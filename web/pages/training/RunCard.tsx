import { For, Show } from 'solid-js';
import type { Training } from '../../../models/contracts/trainings.ts';
import { formatEta } from '../../data/model-view.ts';
import { configLabel, controlsOf, formatInt, statusLabel, stepsPercent } from '../../data/training-view.ts';
import type { TrainingAction, TrainingsStore } from '../../data/trainings.ts';
import { ArtifactCard, createCardAction } from '../../ui/ArtifactCard.tsx';
import { DeviceBadge } from '../../ui/DeviceBadge.tsx';
import { ProgressLine } from '../../ui/ProgressBar.tsx';
import { RunDetail } from './RunDetail.tsx';

const CONTROL_LABEL: Record<TrainingAction, string> = { pause: 'Pause', resume: 'Resume', stop: 'Stop', retry: 'Retry' };

/** A training run: a tick for the Compare page, its hooks and config, steps live, pause / resume / stop / retry, Delete, and its charts when `open`. */
export function RunCard(props: { run: Training; store: TrainingsStore; open: boolean; onToggle: () => void; onDelete: () => void; ticked: boolean; onTick: (on: boolean) => void }) {
  const r = () => props.run;
  const p = () => r().progress;
  const action = createCardAction<TrainingAction>();
  const tone = () => (r().status === 'failed' ? 'bad' : r().status === 'cancelled' || r().status === 'paused' ? 'muted' : 'normal');
  return (
    <ArtifactCard
      class="run-card"
      testId={`training-${r().id}`}
      dataStatus={r().status}
      title={r().name}
      status={r().status}
      statusLabel={statusLabel(r())}
      statusTestId="run-status"
      createdAt={r().createdAt}
      actions={
        <>
          <label class="inline compare-tick">
            <input type="checkbox" checked={props.ticked} onChange={(e) => props.onTick(e.currentTarget.checked)} aria-label={`compare ${r().name}`} data-testid="compare-tick" />
            compare
          </label>
          <button type="button" onClick={() => props.onToggle()} data-testid="toggle-detail">
            {props.open ? 'Hide charts' : 'Charts'}
          </button>
          <For each={controlsOf(r())}>
            {(a) => (
              <button type="button" onClick={() => void action.run(a, () => props.store.control(r(), a))} disabled={action.busy() !== undefined} data-testid={`control-${a}`}>
                {action.busy() === a ? `${CONTROL_LABEL[a]}…` : CONTROL_LABEL[a]}
              </button>
            )}
          </For>
        </>
      }
      onDelete={props.onDelete}
      deleteTestId="delete-run"
      body={
        <>
          <p class="run-hooks-line">
            <span class="muted">
              {r().modelName ?? 'deleted model'} on {r().datasetName ?? 'deleted dataset'}
            </span>
            <For each={r().hookPoints}>{(h) => <code class="hook-chip">{h}</code>}</For>
          </p>
          <p class="muted run-settings" data-testid="run-config">
            {configLabel(r().config)} <DeviceBadge device={p()?.device ?? r().device} testId="run-device" />
          </p>
          <ProgressLine value={stepsPercent(r())} label="steps" testId="run-progress" tone={tone()} textTestId="run-progress-text">
            <Show when={p()} fallback={r().status === 'queued' ? 'waiting for a worker…' : ''}>
              {(q) => (
                <>
                  step {formatInt(q().step)} / {formatInt(q().totalSteps)} · {formatInt(q().tokens)} / {formatInt(q().totalTokens)} tokens
                  <Show when={r().status === 'running'}>
                    {' '}
                    · {q().phase === 'training' ? `${formatInt(q().tokensPerSecond)} tokens/s · ETA ${formatEta(q().etaSeconds)}` : `${q().phase}…`}
                  </Show>
                  <Show when={q().resumedAt > 0}> · resumed at step {formatInt(q().resumedAt)}</Show>
                </>
              )}
            </Show>
          </ProgressLine>
        </>
      }
      error={r().error}
      errorTestId="run-error"
      actionError={action.error()}
      actionErrorTestId="action-error"
    >
      <Show when={props.open}>
        <RunDetail run={r()} />
      </Show>
    </ArtifactCard>
  );
}
