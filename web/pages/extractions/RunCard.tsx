import { createSignal, For, Show } from 'solid-js';
import type { Extraction } from '../../../models/contracts/extractions.ts';
import { formatInt, formatStat, isRunning, settingsLabel, tokensPercent } from '../../data/extraction-view.ts';
import type { ExtractionsStore } from '../../data/extractions.ts';
import { formatEta } from '../../data/model-view.ts';
import { ArtifactCard } from '../../ui/ArtifactCard.tsx';
import { DeviceBadge } from '../../ui/DeviceBadge.tsx';
import { ProgressLine } from '../../ui/ProgressBar.tsx';
import { RunDetail } from './RunDetail.tsx';

const STATUS_LABEL: Record<Extraction['status'], string> = {
  queued: 'queued',
  running: 'extracting',
  paused: 'paused',
  completed: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** An extraction run: its hooks and settings, tokens live, statistics per hook, Cancel and Delete, and what it stored on request. */
export function RunCard(props: { run: Extraction; store: ExtractionsStore; onDelete: () => void }) {
  const r = () => props.run;
  const [open, setOpen] = createSignal(false);
  const p = () => r().progress;
  return (
    <ArtifactCard
      class="run-card"
      testId={`extraction-${r().id}`}
      dataStatus={r().status}
      title={
        <>
          {r().modelName ?? 'deleted model'} <span class="muted">on</span> {r().datasetName ?? 'deleted dataset'}
        </>
      }
      status={r().status}
      statusLabel={STATUS_LABEL[r().status]}
      statusTestId="run-status"
      createdAt={r().createdAt}
      actions={
        <button type="button" onClick={() => setOpen(!open())} data-testid="toggle-detail">
          {open() ? 'Hide details' : 'Details'}
        </button>
      }
      cancel={{ when: isRunning(r().status), testId: 'cancel-run', run: () => props.store.cancel(r()) }}
      onDelete={props.onDelete}
      deleteTestId="delete-run"
      body={
        <>
          <p class="run-hooks-line">
            <For each={r().hookPoints}>{(h) => <code class="hook-chip">{h}</code>}</For>
          </p>
          <p class="muted run-settings" data-testid="run-settings">
            {settingsLabel(r())} <DeviceBadge device={p()?.device ?? r().device} testId="run-device" />
          </p>
          <ProgressLine value={tokensPercent(r())} label="tokens" testId="run-progress" tone={r().status === 'failed' ? 'bad' : r().status === 'cancelled' ? 'muted' : 'normal'} textTestId="run-progress-text">
            <Show when={p()} fallback={r().status === 'queued' ? 'waiting for a worker…' : ''}>
              {(q) => (
                <>
                  {formatInt(q().tokensDone)} / {formatInt(q().tokensTotal)} tokens · {formatInt(q().rows)} rows · {q().shards} shards
                  <Show when={r().status === 'running'}>
                    {' '}
                    · {q().phase === 'extracting' ? `${formatInt(q().tokensPerSecond)} tokens/s · ETA ${formatEta(q().etaSeconds)}` : `${q().phase}…`}
                  </Show>
                </>
              )}
            </Show>
          </ProgressLine>
          <Show when={(p()?.fallbacks.length ?? 0) > 0}>
            <p class="muted run-fallback" data-testid="run-fallback">
              out of memory, fell back: {p()!.fallbacks.at(-1)}
            </p>
          </Show>
          <Show when={r().stats}>
            {(s) => (
              <dl class="model-facts run-stats" data-testid="run-stats">
                <For each={r().hookPoints.flatMap((h) => (s()[h] ? [[h, s()[h]!] as const] : []))}>
                  {([hook, st]) => (
                    <div>
                      <dt>
                        <code>{hook}</code>
                      </dt>
                      <dd>
                        mean norm {formatStat(st.meanNorm)} · mean variance {formatStat(st.meanVariance)} · {formatInt(st.count)} rows
                      </dd>
                    </div>
                  )}
                </For>
              </dl>
            )}
          </Show>
        </>
      }
      error={r().error}
      errorTestId="run-error"
    >
      <Show when={open()}>
        <RunDetail run={r()} />
      </Show>
    </ArtifactCard>
  );
}
