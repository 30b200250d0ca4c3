/**
 * Every supported family against Hugging Face transformers' own forward pass
 * on the tiny random checkpoints in fixtures/ (copied from the fixtures
 * Loupe was given, with their README; fp32, CPU): logits, every residual
 * stream, the final norm and every attention pattern, within 1e-4 absolute
 * or relative. And a rotary model past position 2,000 against a float64
 * reference. fixtures.gpu.test.ts runs the same checks on WebGPU.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES, farRotaryError, fixtureErrors } from '../../scripts/testing/architectures.ts';

describe('architectures match Hugging Face transformers (fp32, CPU)', () => {
  for (const arch of FAMILIES) {
    it(arch, async () => {
      const errors = await fixtureErrors(arch, 'cpu');
      if (process.env.LOUPE_PRINT_ERRORS) console.log(arch, errors);
      const bad = Object.entries(errors).filter(([, e]) => !(e <= 1e-4));
      expect(bad, `tensors off by more than 1e-4: ${JSON.stringify(bad)}`).toEqual([]);
    });
  }

  it('rotary positions past 2,000 (Llama, block 0 attention) within 1e-5 of float64', async () => {
    expect(await farRotaryError('cpu')).toBeLessThan(1e-5);
  });
});
