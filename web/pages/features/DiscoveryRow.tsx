import { Show } from 'solid-js';
import type { Discovery } from '../../../models/contracts/features.ts';
import { formatInt } from '../../data/dataset-view.ts';
import { discoveryActive, DISCOVERY_PHASE_LABEL, discoveryPercent, discoverySourceText, type SourceNames } from '../../data/discovery-view.ts';
import { formatEta } from '../../data/model-view.ts';
import { DeviceBadge } from '../../ui/DeviceBadge.tsx';
import { ProgressBar } from '../../ui/ProgressBar.tsx';

/** One discovery: status, when, what it ran over, its progress, and Cancel while it runs; `compact` in the history. */
export function DiscoveryRow(props: { d: Discovery; dSae: number; names: SourceNames; onCancel: (d: Discovery) => void; compact?: boolean }) {
  const d = () => props.d;
  const p = () => d().progress;
  /** over text, the scan and examples count tokens through the model */
  const unit = () => (d().source === 'text' ? 'tokens' : 'rows');
  const text = () => {
    const q = p();
    if (d().status === 'queued') return 'waiting for a worker…';
    if (d().status === 'completed') return `${d().rows !== null ? `${formatInt(d().rows!)} ${d().source === 'text' ? 'tokens' : 'activation rows'} scanned · ` : ''}top ${d().settings.topK} examples a feature`;
    if (!q) return '';
    const counts = q.phase === 'labels' ? `${formatInt(q.featuresLabelled)} / ${formatInt(props.dSae)} features` : q.phase === 'saving' ? `${formatInt(q.rowsDone)} / ${formatInt(q.rowsTotal)} features` : `${formatInt(q.rowsDone)} / ${formatInt(q.rowsTotal)} ${unit()}`;
    return `${DISCOVERY_PHASE_LABEL[q.phase]} · ${counts}${d().status === 'running' && q.etaSeconds !== null ? ` · ETA ${formatEta(q.etaSeconds)}` : ''}`;
  };
  const tone = () => (d().status === 'failed' ? 'bad' : d().status === 'cancelled' ? 'muted' : 'normal');
  return (
    <div class="discovery-row" classList={{ compact: props.compact }} data-testid="discovery" data-status={d().status} data-source={d().source}>
      <span class={`status status-${d().status}`} data-testid="discovery-status">
        {d().status}
      </span>
      <span class="muted discovery-time">{new Date(d().createdAt).toLocaleString()}</span>
      <span class="discovery-source" data-testid="discovery-source" title={d().text ? `windows of ${formatInt(d().text!.contextLength)} tokens, at most ${formatInt(d().text!.maxTokens)} tokens` : undefined}>
        {discoverySourceText(d(), props.names)}
      </span>
      <DeviceBadge device={d().device} testId="discovery-device" />
      <Show when={!props.compact}>
        <ProgressBar value={discoveryPercent(d(), props.dSae)} label="discovery" testId="discovery-progress" tone={tone()} />
      </Show>
      <span class="progress-text" data-testid="discovery-text">
        {text()}
      </span>
      <Show when={discoveryActive(d().status)}>
        <button type="button" class="danger-outline" onClick={() => props.onCancel(d())} data-testid="discovery-cancel">
          Cancel
        </button>
      </Show>
      <Show when={d().error}>
        <span class="field-error discovery-note">{d().error}</span>
      </Show>
      <Show when={d().warning}>
        <span class="warn-note discovery-note" data-testid="discovery-warning">
          {d().warning}
        </span>
      </Show>
    </div>
  );
}
