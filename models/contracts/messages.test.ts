/** The plain messages of the contracts' validation errors, as the browser and the API show them. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createModelSchema } from './api.ts';
import { llmSettingsInputSchema } from './features.ts';
import { installPlainMessages, issueDetails } from './messages.ts';

installPlainMessages();

const details = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  return r.success ? [] : issueDetails(r.error);
};

describe('plain validation messages', () => {
  it('say what a field needs, in words, naming the field by its path', () => {
    expect(details(createModelSchema, { source: { kind: 'hub', repo: '' } })).toEqual([{ field: 'source.repo', message: 'required' }]);
    const s = z.object({ n: z.number().int().min(1).max(10), t: z.string().min(3), a: z.array(z.string()).min(1), e: z.enum(['x', 'y']) }).strict();
    expect(details(s, { n: 'abc', t: 'ab', a: [], e: 'z', extra: 1 })).toEqual([
      { field: 'n', message: 'a number' },
      { field: 't', message: 'at least 3 characters' },
      { field: 'a', message: 'choose at least one' },
      { field: 'e', message: 'one of "x", "y"' },
      { field: 'extra', message: 'unknown field "extra"' },
    ]);
    expect(details(s.pick({ n: true }), { n: 1.5 })).toEqual([{ field: 'n', message: 'a whole number' }]);
    expect(details(s.pick({ n: true }), { n: 0 })).toEqual([{ field: 'n', message: 'at least 1' }]);
    expect(details(s.pick({ n: true }), { n: 11 })).toEqual([{ field: 'n', message: 'at most 10' }]);
    expect(details(s.pick({ n: true }), {})).toEqual([{ field: 'n', message: 'required' }]);
    expect(details(s.pick({ n: true }), { n: Number.NaN })).toEqual([{ field: 'n', message: 'a number' }]);
  });
  it('keep a schema\'s own message', () => {
    const url = details(llmSettingsInputSchema, { url: 'not a url', model: 'm' });
    expect(url.every((d) => d.field === 'url' && d.message === 'expected an http(s) URL such as http://localhost:11434/v1')).toBe(true);
    expect(url.length).toBeGreaterThan(0);
  });
});
