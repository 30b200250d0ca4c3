/**
 * The list of a list page (models, datasets, extractions, trainings): the
 * store's load error with a retry, "Loading…" until the first answer, the
 * empty state, a card per item, and the dialog that confirms a deletion.
 */
import { createSignal, For, Show, type JSX } from 'solid-js';
import type { ApiError } from '../api.ts';
import { DeleteDialog } from './DeleteDialog.tsx';

export interface ArtifactListProps<T> {
  items: readonly T[];
  /** the store's first load is under way */
  loading: boolean;
  error: ApiError | undefined;
  onRetry: () => void;
  /** what the items are, plural: "Could not load the models" */
  noun: string;
  /** a section title above the list */
  title?: string;
  /** shown when there is no item */
  empty: JSX.Element;
  listClass: string;
  listTestId: string;
  /** e.g. "Delete this model?" */
  deleteTitle: string;
  onDelete: (item: T) => Promise<void>;
  /** what a deletion removes, in words */
  deleteText: (item: T) => JSX.Element;
  /** an item's card; `askDelete` opens the dialog for it */
  children: (item: T, askDelete: () => void) => JSX.Element;
}

/** Renders the list of `items`, a card each (`children`), and the dialog that confirms a deletion. */
export function ArtifactList<T>(props: ArtifactListProps<T>) {
  const [toDelete, setToDelete] = createSignal<T>();
  return (
    <>
      <Show when={props.error}>
        {(err) => (
          <div class="error" role="alert">
            <b>{`Could not load the ${props.noun}:`}</b> {err().message} <button onClick={() => props.onRetry()}>Retry</button>
          </div>
        )}
      </Show>
      <Show when={props.title}>
        <h2 class="section-title">{props.title}</h2>
      </Show>
      <Show when={!props.loading || props.items.length > 0} fallback={<p class="muted">Loading…</p>}>
        <Show when={props.items.length > 0} fallback={props.empty}>
          <div class={props.listClass} data-testid={props.listTestId}>
            <For each={props.items}>{(item) => props.children(item, () => setToDelete(() => item))}</For>
          </div>
        </Show>
      </Show>
      <DeleteDialog item={toDelete()} title={props.deleteTitle} onDelete={props.onDelete} onClose={() => setToDelete(undefined)}>
        {props.deleteText}
      </DeleteDialog>
    </>
  );
}
