/**
 * The card of one artifact on a list page (a model, a dataset, an extraction,
 * a training): a head with its name, status, when it was made, the page's own
 * buttons, Cancel and Delete; the page's body; the failure its job reported
 * and that of an action taken on the card; and what the card opens.
 */
import { createEffect, createSignal, Show, type Accessor, type JSX } from 'solid-js';
import type { ARTIFACT_STATUSES } from '../../models/contracts/topics.ts';
import { errorMessage } from '../api.ts';

type Status = (typeof ARTIFACT_STATUSES)[number];

/** An action a card runs (cancel, pause, …): one at a time; its failure is kept to be shown on the card. */
export interface CardAction<A extends string> {
  /** the action under way */
  busy: Accessor<A | undefined>;
  /** why the last one failed (cleared when the next starts) */
  error: Accessor<string | undefined>;
  run(action: A, fn: () => Promise<unknown>): Promise<void>;
}

/** Creates the state of a card's actions; call inside a component. */
export function createCardAction<A extends string>(): CardAction<A> {
  const [busy, setBusy] = createSignal<A>();
  const [error, setError] = createSignal<string>();
  return {
    busy,
    error,
    async run(action, fn) {
      setBusy(() => action);
      setError(undefined);
      try {
        await fn();
      } catch (err) {
        setError(errorMessage(err));
      } finally {
        setBusy(undefined);
      }
    },
  };
}

/**
 * Whether a card shows its job's progress: while the job may still change,
 * and after it completed when the page watched it run (a download watched on
 * the page stays on screen at 100 %; after a reload it does not).
 */
export function createProgressShown(row: Accessor<{ status: Status; progress: unknown }>, isActive: (status: Status) => boolean): Accessor<boolean> {
  const [watched, setWatched] = createSignal(false);
  createEffect(() => isActive(row().status) && setWatched(true));
  return () => isActive(row().status) || (watched() && row().status === 'completed' && row().progress !== null);
}

export interface ArtifactCardProps {
  /** classes after `card`, e.g. `model-card` */
  class: string;
  testId: string;
  /** the card's `data-name` */
  dataName?: string;
  /** the card's `data-status` */
  dataStatus?: string;
  /** class of the head (default `model-head`) */
  headClass?: string;
  title: JSX.Element;
  status: Status;
  statusLabel: string;
  statusTestId: string;
  /** ms since epoch: shown after the status */
  createdAt?: number;
  /** the page's buttons, before Cancel and Delete */
  actions?: JSX.Element;
  /** a Cancel button while `when` holds; its failure is shown on the card */
  cancel?: { when: boolean; testId: string; run: () => Promise<void> };
  /** whether the card has a Delete button (default: yes) */
  deletable?: boolean;
  onDelete: () => void;
  deleteTestId: string;
  /** between the head and the messages */
  body: JSX.Element;
  /** the job's failure (in red once the status is failed), or a note while it retries */
  error: string | null;
  errorTestId: string;
  /** the failure of an action of the page's own buttons */
  actionError?: string | undefined;
  actionErrorTestId?: string;
  /** after the messages: progress, what the card opens */
  children?: JSX.Element;
}

/** Renders the card; the page gives its head's title and buttons, its body and what it opens. */
export function ArtifactCard(props: ArtifactCardProps) {
  const cancel = createCardAction<'cancel'>();
  const actionError = () => props.actionError ?? cancel.error();
  return (
    <article class={`card ${props.class}`} data-testid={props.testId} data-name={props.dataName} data-status={props.dataStatus}>
      <header class={props.headClass ?? 'model-head'}>
        <h3>{props.title}</h3>
        <span class={`status status-${props.status}`} data-testid={props.statusTestId} data-status={props.status}>
          {props.statusLabel}
        </span>
        <Show when={props.createdAt !== undefined}>
          <span class="muted run-time">{new Date(props.createdAt!).toLocaleString()}</span>
        </Show>
        <div class="spacer" />
        {props.actions}
        <Show when={props.cancel?.when}>
          <button type="button" onClick={() => void cancel.run('cancel', () => props.cancel!.run())} disabled={cancel.busy() !== undefined} data-testid={props.cancel!.testId}>
            {cancel.busy() ? 'Cancelling…' : 'Cancel'}
          </button>
        </Show>
        <Show when={props.deletable ?? true}>
          <button type="button" class="danger-outline" onClick={() => props.onDelete()} data-testid={props.deleteTestId}>
            Delete
          </button>
        </Show>
      </header>
      {props.body}
      <Show when={props.error}>
        <p class={props.status === 'failed' ? 'field-error' : 'muted'} data-testid={props.errorTestId}>
          {props.error}
        </p>
      </Show>
      <Show when={actionError()}>
        <p class="field-error" role="alert" data-testid={props.actionErrorTestId}>
          {actionError()}
        </p>
      </Show>
      {props.children}
    </article>
  );
}
