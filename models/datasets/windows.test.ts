import { describe, expect, it } from 'vitest';
import { sequenceWindows, type WindowOptions } from './windows.ts';

/**
 * Windows by brute force: slide over every token and keep each start the
 * definition allows. Independent of the arithmetic in windows.ts.
 */
function bruteForce(offsets: number[], opts: WindowOptions): [number, number][] {
  const ctx = opts.contextLength;
  const stride = opts.stride ?? ctx;
  const spans: [number, number][] = opts.acrossDocuments ? [[offsets[0]!, offsets[offsets.length - 1]!]] : offsets.slice(0, -1).map((o, i) => [o, offsets[i + 1]!]);
  const out: [number, number][] = [];
  for (const [a, b] of spans) {
    let coveredTo = a; // end of the last full window
    let s = a;
    for (; s < b; s += stride) {
      if (s + ctx <= b) {
        out.push([s, ctx]);
        coveredTo = s + ctx;
      } else break;
    }
    if (opts.partial === 'keep' && coveredTo < b && s < b) out.push([s, b - s]);
  }
  return out.slice(0, opts.maxWindows ?? Infinity);
}

function pairs(offsets: number[], opts: WindowOptions): [number, number][] {
  const w = sequenceWindows(offsets, opts);
  expect(w.start.length).toBe(w.count);
  return Array.from({ length: w.count }, (_, i) => [w.start[i]!, w.length[i]!]);
}

describe('sequenceWindows', () => {
  const offsets = [0, 5, 12, 12 + 3, 15 + 9];

  it('packs documents back to back (acrossDocuments), dropping the partial tail by default', () => {
    expect(pairs(offsets, { contextLength: 4, acrossDocuments: true })).toEqual([
      [0, 4],
      [4, 4],
      [8, 4],
      [12, 4],
      [16, 4],
      [20, 4],
    ]);
    expect(pairs(offsets, { contextLength: 5, acrossDocuments: true, partial: 'keep' }).slice(-1)).toEqual([[20, 4]]);
  });

  it('keeps windows inside documents: short documents are dropped, or kept whole', () => {
    // Documents of 5, 7, 3 and 9 tokens.
    expect(pairs(offsets, { contextLength: 4, acrossDocuments: false })).toEqual([
      [0, 4],
      [5, 4],
      [15, 4],
      [19, 4],
    ]);
    expect(pairs(offsets, { contextLength: 4, acrossDocuments: false, partial: 'keep' })).toEqual([
      [0, 4],
      [4, 1],
      [5, 4],
      [9, 3],
      [12, 3],
      [15, 4],
      [19, 4],
      [23, 1],
    ]);
  });

  it('overlapping windows with a stride, and gaps with a stride over the context length', () => {
    expect(pairs([0, 10], { contextLength: 4, stride: 2, acrossDocuments: false })).toEqual([
      [0, 4],
      [2, 4],
      [4, 4],
      [6, 4],
    ]);
    expect(pairs([0, 11], { contextLength: 4, stride: 2, acrossDocuments: false, partial: 'keep' }).slice(-2)).toEqual([
      [6, 4],
      [8, 3],
    ]);
    // The last full window already reaches the end: no partial one.
    expect(pairs([0, 10], { contextLength: 4, stride: 2, acrossDocuments: false, partial: 'keep' }).length).toBe(4);
    expect(pairs([0, 10], { contextLength: 2, stride: 5, acrossDocuments: false, partial: 'keep' })).toEqual([
      [0, 2],
      [5, 2],
    ]);
  });

  it('equals brute force on many random layouts and settings', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 400; trial++) {
      const offs = [rand(3)];
      for (let d = 0, n = 1 + rand(8); d < n; d++) offs.push(offs[offs.length - 1]! + 1 + rand(30));
      const opts: WindowOptions = {
        contextLength: 1 + rand(12),
        stride: rand(3) === 0 ? undefined : 1 + rand(15),
        acrossDocuments: rand(2) === 0,
        partial: rand(2) === 0 ? 'keep' : 'drop',
        maxWindows: rand(4) === 0 ? rand(5) : undefined,
      } as WindowOptions;
      expect(pairs(offs, opts), JSON.stringify({ offs, opts })).toEqual(bruteForce(offs, opts));
    }
  });

  it('no documents, and invalid settings', () => {
    expect(sequenceWindows([0], { contextLength: 4, acrossDocuments: true }).count).toBe(0);
    expect(() => sequenceWindows([0, 4], { contextLength: 0, acrossDocuments: true })).toThrow(/contextLength must be a positive integer/);
    expect(() => sequenceWindows([0, 4], { contextLength: 2, stride: 1.5, acrossDocuments: true })).toThrow(/stride/);
  });
});
