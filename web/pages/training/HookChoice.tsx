import { For, Show } from 'solid-js';
import type { Extraction } from '../../../models/contracts/extractions.ts';
import { errorFor } from '../../data/training-form.ts';
import { formatInt } from '../../data/training-view.ts';
import { FieldError } from '../../ui/FieldError.tsx';

/**
 * The hook points of the new-training form: those of the extraction (one SAE
 * each) with their row width, the d_sae the form gives and the rows stored,
 * and any the form holds that the extraction lacks (from a template), so that
 * the server's message about them has something to sit by.
 */
export function HookChoice(props: {
  extraction: Extraction | undefined;
  chosen: string[];
  /** a hook's row width and rows, once the extraction's store is read */
  hookInfo: (hook: string) => { d: number; rows: number } | undefined;
  /** d_sae of a row width, as the form sizes it */
  dSae: (dIn: number) => number | undefined;
  onToggle: (hook: string, on: boolean) => void;
  errors: Record<string, string>;
}) {
  const strangers = () => props.chosen.filter((h) => !props.extraction?.hookPoints.includes(h));
  return (
    <div class="hook-section">
      <div class="hook-head">
        <b>Hook points</b>
        <span class="muted">one SAE each, trained in one pass; {props.chosen.length} chosen</span>
      </div>
      <Show when={props.extraction} fallback={<p class="muted">Pick an extraction.</p>}>
        {(e) => (
          <div class="train-hooks" data-testid="hook-list">
            <For each={[...e().hookPoints, ...strangers()]}>
              {(hook) => {
                const info = () => props.hookInfo(hook);
                const dSae = () => (info() ? props.dSae(info()!.d) : undefined);
                return (
                  <label class="hook-option" classList={{ stranger: !e().hookPoints.includes(hook) }}>
                    <input type="checkbox" checked={props.chosen.includes(hook)} onChange={(ev) => props.onToggle(hook, ev.currentTarget.checked)} data-testid={`hook-${hook}`} />
                    <code>{hook}</code>
                    <Show when={!e().hookPoints.includes(hook)}>
                      <span class="field-error">not in this extraction</span>
                    </Show>
                    <Show when={info()}>
                      {(i) => (
                        <span class="muted">
                          d_in {i().d} → d_sae {dSae() !== undefined ? formatInt(dSae()!) : '?'} · {formatInt(i().rows)} rows
                        </span>
                      )}
                    </Show>
                  </label>
                );
              }}
            </For>
          </div>
        )}
      </Show>
      <FieldError errors={props.errors} field="hookPoints" lookup={errorFor} />
    </div>
  );
}
