/**
 * Plain messages for the contracts' validation errors, the same in the
 * browser (which checks a form with the contract before sending it) and in
 * the API (whose 400 names each bad field): "required", "at least 1",
 * "a whole number", "expected an http(s) URL …", never the schema library's
 * own wording ("Too small: expected string to have >=1 characters"). A
 * message a schema gives itself (`.url('expected …')`, `.refine(…, msg)`)
 * is kept as it is.
 */
import { z } from 'zod';

type Issue = z.core.$ZodRawIssue;

const plural = (n: number | bigint, one: string, many: string) => `${n} ${Number(n) === 1 ? one : many}`;

/** What a value should have been, from the type a schema expected. */
function expected(e: string): string {
  switch (e) {
    case 'number':
    case 'nan':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'string':
      return 'text';
    case 'boolean':
      return 'yes or no';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    default:
      return `a ${e}`;
  }
}

/**
 * The plain message of one issue, or undefined to keep the library's (an
 * issue kind this does not know). Usable as zod's `customError`.
 */
export function plainIssueMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined || issue.input === null) return 'required';
      if (typeof issue.input === 'number' && Number.isNaN(issue.input)) return expected(issue.expected);
      return expected(issue.expected);
    }
    case 'too_small': {
      const min = issue.minimum;
      if (issue.origin === 'string') return Number(min) === 1 ? 'required' : `at least ${plural(min, 'character', 'characters')}`;
      if (issue.origin === 'array' || issue.origin === 'set') return Number(min) === 1 ? 'choose at least one' : `at least ${min}`;
      return issue.inclusive === false ? `more than ${min}` : `at least ${Number(min).toLocaleString('en-US')}`;
    }
    case 'too_big': {
      const max = issue.maximum;
      if (issue.origin === 'string') return `at most ${plural(max, 'character', 'characters')}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `at most ${max}`;
      return issue.inclusive === false ? `less than ${max}` : `at most ${Number(max).toLocaleString('en-US')}`;
    }
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_format':
      switch (issue.format) {
        case 'url':
          return 'expected a URL such as https://example.com';
        case 'uuid':
        case 'guid':
          return 'expected an id';
        case 'regex':
          return 'not in the expected form';
        default:
          return `expected ${issue.format}`;
      }
    case 'invalid_value':
      return issue.values.length === 1 ? `expected ${JSON.stringify(issue.values[0])}` : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_union':
      return 'not one of the accepted forms';
    default:
      return undefined;
  }
}

let installed = false;

/** Makes {@link plainIssueMessage} zod's message for every schema of this process (the API's, the browser's); once is enough. */
export function installPlainMessages(): void {
  if (installed) return;
  installed = true;
  z.config({ customError: plainIssueMessage });
}

/** A bad field of a validation error: its path (`source.repo`, `config.k`) and plain message, as the API's 400 lists them. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** The bad fields of a validation error, each named by its path; an unknown field (a strict schema) is named itself. */
export function issueDetails(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: [...issue.path, key === '' ? '""' : key].join('.'), message: `unknown field "${key}"` }))
      : [{ field: issue.path.join('.') || '(root)', message: issue.message }],
  );
}
