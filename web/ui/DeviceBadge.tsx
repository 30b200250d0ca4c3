/** Where a job ran, in one line: each part's device ("model WebGPU · NVIDIA H200 · SAE CPU"), muted when it fell back, the reason in its tooltip. */
import { For, Show } from 'solid-js';
import type { JobDevice } from '../../models/contracts/device.ts';
import { deviceParts } from '../data/device-view.ts';

export function DeviceBadge(props: { device: JobDevice | null | undefined; testId?: string }) {
  const parts = () => deviceParts(props.device);
  return (
    <Show when={parts().length > 0}>
      <span class="device-badge" data-testid={props.testId ?? 'device'}>
        <For each={parts()}>
          {(p, i) => (
            <>
              <Show when={i() > 0}>{' · '}</Show>
              <span classList={{ muted: p.degraded }} title={p.title} data-part={p.part}>
                <span class="muted">{p.part}</span> {p.label}
                <Show when={p.degraded && p.label === 'CPU'}> (fallback)</Show>
              </span>
            </>
          )}
        </For>
      </span>
    </Show>
  );
}
