/**
 * A form the server validates: whether it is sending, the messages by field
 * (each shown beside its field with FieldError) — the browser's own, when
 * `send` checks its body first with the contract (api.ts's checkInput), else
 * the server's — and a failure with no field to sit beside (server down,
 * queue unavailable), shown above the form with {@link FormFailure}.
 */
import { createSignal, Show, type Accessor, type Setter } from 'solid-js';
import { errorMessage, fieldErrors } from '../api.ts';

export interface ServerForm {
  busy: Accessor<boolean>;
  /** messages by field path, as the server names the fields */
  errors: Accessor<Record<string, string>>;
  setErrors: Setter<Record<string, string>>;
  failure: Accessor<string | undefined>;
  setFailure: Setter<string | undefined>;
  /** shows why a send failed: the server's field messages, else its message as the failure */
  fail(err: unknown): void;
  /** a submit handler: clears the messages, runs `send` (busy meanwhile), and shows why it failed */
  submit(send: () => Promise<unknown>): (e: SubmitEvent) => Promise<void>;
}

/** Creates the state of a form; call inside its component. */
export function createServerForm(): ServerForm {
  const [busy, setBusy] = createSignal(false);
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [failure, setFailure] = createSignal<string>();
  const fail = (err: unknown) => {
    const { '(root)': root, ...fields } = fieldErrors(err);
    setErrors(fields);
    // A message with no field to sit beside goes above the form.
    if (root !== undefined) setFailure(root);
    else if (Object.keys(fields).length === 0) setFailure(errorMessage(err));
  };
  return {
    busy,
    errors,
    setErrors,
    failure,
    setFailure,
    fail,
    submit: (send) => async (e) => {
      e.preventDefault();
      setBusy(true);
      setErrors({});
      setFailure(undefined);
      try {
        await send();
      } catch (err) {
        fail(err);
      } finally {
        setBusy(false);
      }
    },
  };
}

/** The form's failure, above its fields. */
export function FormFailure(props: { form: ServerForm; testId: string }) {
  return (
    <Show when={props.form.failure()}>
      <div class="error" role="alert" data-testid={props.testId}>
        {props.form.failure()}
      </div>
    </Show>
  );
}
