/**
 * The encode contracts against what they describe: the core's per-token
 * features, and the body's rules (text or ids, never both), naming the field.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type { TokenFeature } from '../features/token-features.ts';
import { encodeRequestSchema, tokenFeatureSchema } from './encode.ts';

describe('encode contracts', () => {
  it('describe the core\'s token features', () => {
    expectTypeOf<z.infer<typeof tokenFeatureSchema>>().toEqualTypeOf<TokenFeature>();
  });

  it('take text or ids, never both, with topK 10 by default', () => {
    const fields = (body: unknown) => encodeRequestSchema.safeParse(body).error?.issues.map((i) => i.path.join('.'));
    expect(encodeRequestSchema.parse({ text: 'hi' })).toEqual({ text: 'hi', topK: 10 });
    expect(encodeRequestSchema.parse({ ids: [1, 2], topK: 3 })).toEqual({ ids: [1, 2], topK: 3 });
    expect(fields({})).toEqual(['text']);
    expect(fields({ text: 'hi', ids: [1] })).toEqual(['ids']);
    expect(fields({ ids: [1, 0.5] })).toEqual(['ids.1']);
    expect(fields({ text: 'hi', topK: 0 })).toEqual(['topK']);
  });
});
