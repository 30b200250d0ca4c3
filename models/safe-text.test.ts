/**
 * safeText / safeJson: NUL and lone surrogates (what PostgreSQL text and
 * jsonb refuse) become ␀ and �; everything else, pairs included, is kept.
 */
import { describe, expect, it } from 'vitest';
import { hasUnsafeText, NUL_SYMBOL, safeJson, safeJsonText, safeText } from './safe-text.ts';

describe('safe text', () => {
  it('writes NUL as ␀ and a lone surrogate as U+FFFD, keeping pairs and other controls', () => {
    expect(NUL_SYMBOL).toBe('␀');
    expect(safeText('a\u0000b\u0000')).toBe('a␀b␀');
    expect(safeText('x\uD800y')).toBe('x\uFFFDy');
    expect(safeText('\uDC00x\uD83D')).toBe('\uFFFDx\uFFFD');
    expect(safeText('😀 \t\n\u0001')).toBe('😀 \t\n\u0001');
    expect(hasUnsafeText('😀')).toBe(false);
    expect(hasUnsafeText('\uD83D')).toBe(true);
    const plain = 'nothing to change';
    expect(safeText(plain)).toBe(plain);
  });

  it('copies a JSON value only when a string or key in it needs a change', () => {
    const clean = { top: [{ token: 1, text: ' the', value: 2.5 }], rows: Array.from({ length: 100 }, (_, i) => i) };
    expect(safeJson(clean)).toBe(clean);
    const dirty = { top: [{ token: 189, text: '\u0000', value: 1 }], ['k\u0000']: ['\uD800', null, true, 3], at: new Date(0) };
    expect(safeJson(dirty)).toEqual({ top: [{ token: 189, text: '␀', value: 1 }], ['k␀']: ['\uFFFD', null, true, 3], at: '1970-01-01T00:00:00.000Z' });
    // the value itself is left as it was
    expect(dirty.top[0]!.text).toBe('\u0000');
    expect(safeJson('\u0000')).toBe('␀');
    expect(safeJson(null)).toBeNull();
    // a backslash-u typed as text is not a NUL: kept
    expect(safeJson({ s: '\\u0000' })).toEqual({ s: '\\u0000' });
    expect(JSON.parse(safeJsonText([{ l: 'a\u0000' }]))).toEqual([{ l: 'a␀' }]);
    expect(safeJsonText([{ l: 'a' }])).toBe('[{"l":"a"}]');
  });
});
