/**
 * What a trial can become, asked in a modal (the native `<dialog>`: focus
 * trapped, Escape cancels): a training template of its config (a name), or
 * a training of its config at full length (total tokens, prefilled with one
 * pass over the stored rows or the trials' length when longer, and an optional name). The server's messages
 * appear beside the field they name; the dialog stays open on a failure.
 */
import { createEffect, createSignal, Show } from 'solid-js';
import type { SweepTrial } from '../../../models/contracts/sweeps.ts';
import type { Training, TrainingTemplate } from '../../../models/contracts/trainings.ts';
import { parseNumber } from '../../data/training-form.ts';
import { formatParams } from '../../data/sweep-view.ts';
import { FieldError } from '../../ui/FieldError.tsx';
import { createServerForm, FormFailure } from '../../ui/ServerForm.tsx';

/** The action asked for, on which trial. */
export interface TrialAction {
  kind: 'template' | 'train';
  trial: Pick<SweepTrial, 'number' | 'params'>;
}

/** What an action did, for the page's note: its words and a link to what it made. */
export interface TrialOutcome {
  text: string;
  href: string;
  linkText: string;
}

/** The dialog of a trial's action; open while `action` is set, closed by `onClose` (after `onDone` when it succeeded). */
export function TrialDialog(props: {
  action: TrialAction | undefined;
  sweepName: string;
  /** the space's keys, in order */
  keys: string[];
  /** the total tokens a full-length training is prefilled with, when known */
  fullLength: number | undefined;
  onClose: () => void;
  toTemplate: (number: number, name: string) => Promise<TrainingTemplate>;
  train: (number: number, body: { totalTokens?: number; name?: string }) => Promise<Training>;
  onDone: (outcome: TrialOutcome) => void;
}) {
  let dialog!: HTMLDialogElement;
  const [name, setName] = createSignal('');
  const [tokens, setTokens] = createSignal('');
  const server = createServerForm();
  const open = () => props.action !== undefined;
  createEffect(() => {
    const a = props.action;
    if (a && !dialog.open) {
      server.setErrors({});
      server.setFailure(undefined);
      setName(a.kind === 'template' ? `${props.sweepName} #${a.trial.number}`.slice(0, 100) : '');
      setTokens(a.kind === 'train' && props.fullLength !== undefined ? String(props.fullLength) : '');
      dialog.showModal();
    } else if (!a && dialog.open) dialog.close();
  });
  const submit = server.submit(async () => {
    const a = props.action;
    if (!a) return;
    if (a.kind === 'template') {
      const t = await props.toTemplate(a.trial.number, name());
      props.onDone({ text: `Trial #${a.trial.number} saved as the training template “${t.name}”.`, href: '/training', linkText: 'Use it on the Training page' });
    } else {
      const n = parseNumber(tokens());
      const body = { ...(n !== undefined ? { totalTokens: n } : {}), ...(name().trim() ? { name: name().trim() } : {}) };
      const t = await props.train(a.trial.number, body);
      props.onDone({ text: `Trial #${a.trial.number} is training at full length as “${t.name}”.`, href: `/training?run=${encodeURIComponent(t.id)}`, linkText: 'Follow it on the Training page' });
    }
    props.onClose();
  });
  const title = () => (props.action?.kind === 'train' ? 'Train this trial at full length' : 'Save this trial as a training template');
  return (
    <dialog ref={dialog} class="dialog trial-dialog" aria-labelledby="trial-dialog-title" data-testid="trial-dialog" onClose={() => open() && props.onClose()}>
      <form onSubmit={(e) => void submit(e)} novalidate>
        <h2 id="trial-dialog-title">{title()}</h2>
        <Show when={props.action}>
          {(a) => (
            <p class="muted dialog-body">
              Trial #{a().trial.number}: {formatParams(a().trial.params, props.keys)}, over the sweep's base config
              {a().kind === 'train' ? '; a new training of the sweep’s hook point.' : ', on the sweep’s hook point.'}
            </p>
          )}
        </Show>
        <FormFailure form={server} testId="trial-dialog-error" />
        <Show
          when={props.action?.kind === 'train'}
          fallback={
            <label class="field">
              <span>Template name</span>
              <input value={name()} onInput={(e) => setName(e.currentTarget.value)} maxLength={100} data-testid="trial-template-name" />
              <FieldError errors={server.errors()} field="name" />
            </label>
          }
        >
          <label class="field">
            <span>Total tokens</span>
            <input inputmode="numeric" value={tokens()} placeholder="the base config's, else one pass over the rows" onInput={(e) => setTokens(e.currentTarget.value)} data-testid="trial-total-tokens" />
            <FieldError errors={server.errors()} field="totalTokens" />
          </label>
          <label class="field">
            <span>Name</span>
            <input value={name()} placeholder={`${props.sweepName} #${props.action?.trial.number ?? ''}, full length`} onInput={(e) => setName(e.currentTarget.value)} data-testid="trial-train-name" />
            <FieldError errors={server.errors()} field="name" />
          </label>
        </Show>
        <div class="dialog-actions">
          <button type="button" onClick={() => props.onClose()} disabled={server.busy()} data-testid="trial-dialog-cancel">
            Cancel
          </button>
          <button type="submit" class="primary" disabled={server.busy()} data-testid="trial-dialog-ok">
            {server.busy() ? 'Working…' : props.action?.kind === 'train' ? 'Start training' : 'Save template'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
