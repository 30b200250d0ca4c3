/** The heuristic label's wording, on made-up tokens (no tokenizer). */
import { describe, expect, it } from 'vitest';
import { heuristicLabel, visibleBreaks } from './label.ts';

const TEXTS = ['\n', ' Moses', '\t', ' the', 'x'];
const show = (id: number) => TEXTS[id]!;
const ex = (peak: number, prev: number) => ({ rank: 0, maxValue: 1, position: 11, start: 10, tokens: [prev, peak, 4], values: [0, 1, 0] });

describe('heuristic labels', () => {
  it('show a line break or a tab as the token chips do, never as a backslash escape', () => {
    expect(heuristicLabel([ex(0, 4), ex(0, 4), ex(0, 3)], show).label).toBe('“↵”');
    expect(heuristicLabel([ex(4, 2), ex(4, 2), ex(1, 2)], show).label).toBe('after “→”');
    expect(heuristicLabel([ex(1, 4), ex(1, 3)], show).label).toBe('“ Moses”');
    expect(visibleBreaks('a\r\nb\tc')).toBe('a↵b→c');
  });
});
