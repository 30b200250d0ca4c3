/**
 * A modal confirmation (the native `<dialog>`: focus trapped, Escape cancels).
 * Shown while `open` is true; `onConfirm` may be async, and the dialog shows
 * its error and stays open when it fails.
 */
import { createEffect, createSignal, Show, type JSX } from 'solid-js';
import { errorMessage } from '../api.ts';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: JSX.Element;
  confirmLabel: string;
  /** red confirm button (deletions) */
  danger?: boolean;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  let dialog!: HTMLDialogElement;
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  createEffect(() => {
    if (props.open && !dialog.open) {
      setError(undefined);
      dialog.showModal();
    } else if (!props.open && dialog.open) dialog.close();
  });
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} class="dialog" data-testid="confirm-dialog" onClose={() => props.open && props.onClose()}>
      <h2>{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <Show when={error()}>
        <p class="field-error" role="alert">
          {error()}
        </p>
      </Show>
      <div class="dialog-actions">
        <button type="button" onClick={() => props.onClose()} disabled={busy()} data-testid="confirm-cancel">
          Cancel
        </button>
        <button type="button" classList={{ danger: props.danger, primary: !props.danger }} onClick={() => void confirm()} disabled={busy()} data-testid="confirm-ok">
          {busy() ? 'Working…' : props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
