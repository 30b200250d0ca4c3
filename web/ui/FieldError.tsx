/** A form field's error message, beside the field it names. */
import { Show } from 'solid-js';

export interface FieldErrorProps {
  /** messages by field path as the server names them (`source.repo`, `config.k`), e.g. from api.ts's fieldErrors */
  errors: Record<string, string>;
  field: string;
  /** `data-testid` of the message is this prefix and the field (default `error-`) */
  testIdPrefix?: string;
  /** the message of `field` when it is not simply `errors[field]` (e.g. also `settings.<field>` of a template) */
  lookup?: (errors: Record<string, string>, field: string) => string | undefined;
}

/** Shows the message of one field, nothing when it has none. */
export function FieldError(props: FieldErrorProps) {
  const message = () => (props.lookup ? props.lookup(props.errors, props.field) : props.errors[props.field]);
  return (
    <Show when={message()}>
      <span class="field-error" data-testid={`${props.testIdPrefix ?? 'error-'}${props.field}`}>
        {message()}
      </span>
    </Show>
  );
}
