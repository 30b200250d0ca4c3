/**
 * The confirmation before a deletion, as a modal (the native `<dialog>`:
 * focus trapped, Escape cancels). Open while `item` is set; `onDelete` may be
 * async, and the dialog shows its error and stays open when it fails.
 */
import { createEffect, createSignal, Show, type JSX } from 'solid-js';
import { errorMessage } from '../api.ts';

export interface DeleteDialogProps<T> {
  /** what is to be deleted; undefined: the dialog is closed */
  item: T | undefined;
  /** e.g. "Delete this model?" */
  title: string;
  onDelete: (item: T) => Promise<void>;
  /** called when the dialog closes (deleted, cancelled or Escape): clear `item` */
  onClose: () => void;
  /** what goes with it, in words */
  children: (item: T) => JSX.Element;
}

/** Renders the dialog; shown while `item` is set. */
export function DeleteDialog<T>(props: DeleteDialogProps<T>) {
  let dialog!: HTMLDialogElement;
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const open = () => props.item !== undefined;
  createEffect(() => {
    if (open() && !dialog.open) {
      setError(undefined);
      dialog.showModal();
    } else if (!open() && dialog.open) dialog.close();
  });
  const confirm = async () => {
    const item = props.item;
    if (item === undefined) return;
    setBusy(true);
    setError(undefined);
    try {
      await props.onDelete(item);
      props.onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} class="dialog" data-testid="confirm-dialog" onClose={() => open() && props.onClose()}>
      <h2>{props.title}</h2>
      <div class="dialog-body">
        <Show when={props.item}>{(item) => props.children(item())}</Show>
      </div>
      <Show when={error()}>
        <p class="field-error" role="alert">
          {error()}
        </p>
      </Show>
      <div class="dialog-actions">
        <button type="button" onClick={() => props.onClose()} disabled={busy()} data-testid="confirm-cancel">
          Cancel
        </button>
        <button type="button" class="danger" onClick={() => void confirm()} disabled={busy()} data-testid="confirm-ok">
          {busy() ? 'Working…' : 'Delete'}
        </button>
      </div>
    </dialog>
  );
}
