import { describe, expect, it } from 'vitest';
import { denseActivations, featureOnTokens, formatBytes, formatMs, tokenFeatures } from './inspector-view.ts';

describe('inspector view', () => {
  it("lists each token's active features, largest first, ties to the lower index, from TopK's output", () => {
    // 2 tokens, k 3: token 0 keeps features 5 (2.0), 1 (2.0), 7 (0); token 1 keeps 3 (0.5), 4 (-1), 2 (0.25)
    const out = { kind: 'sparse' as const, k: 3, values: Float32Array.of(2, 2, 0, 0.5, -1, 0.25), indices: Int32Array.of(5, 1, 7, 3, 4, 2) };
    expect(tokenFeatures(out, 2, 8)).toEqual([
      [
        { index: 1, value: 2 },
        { index: 5, value: 2 },
      ],
      [
        { index: 3, value: 0.5 },
        { index: 2, value: 0.25 },
      ],
    ]);
    const dense = denseActivations(out, 2, 8);
    expect(Array.from(dense)).toEqual([0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0.25, 0.5, 0, 0, 0, 0]);
    expect(tokenFeatures({ kind: 'dense', acts: dense }, 2, 8)).toEqual(tokenFeatures(out, 2, 8));
    expect(featureOnTokens(tokenFeatures(out, 2, 8), 5)).toEqual([2, 0]);
  });

  it('formats durations and sizes', () => {
    expect([formatMs(0.42), formatMs(12.4), formatMs(1234)]).toEqual(['0.4 ms', '12 ms', '1.2 s']);
    expect([formatBytes(512), formatBytes(3.5 * 1024 ** 2), formatBytes(2 * 1024 ** 3)]).toEqual(['512 B', '3.5 MiB', '2.00 GiB']);
  });
});
