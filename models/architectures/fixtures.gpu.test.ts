/**
 * The GPU lane's forward pass: every family's fixture on WebGPU (SwiftShader
 * where there is no GPU) within 1e-4 of Hugging Face transformers, as on the
 * CPU (fixtures.test.ts), and rotary positions past 2,000 within 1e-5 of
 * float64: the rotary tables are computed on the host, since a GPU's Sin and
 * Cos drift at large angles (5.9e-5 when the graph computed them).
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES, farRotaryError, fixtureErrors } from '../../scripts/testing/architectures.ts';

describe('architectures match Hugging Face transformers (fp32, WebGPU)', () => {
  for (const arch of FAMILIES) {
    it(arch, async () => {
      const errors = await fixtureErrors(arch, 'webgpu');
      if (process.env.LOUPE_PRINT_ERRORS) console.log(arch, errors);
      const bad = Object.entries(errors).filter(([, e]) => !(e <= 1e-4));
      expect(bad, `tensors off by more than 1e-4: ${JSON.stringify(bad)}`).toEqual([]);
    });
  }

  it('rotary positions past 2,000 (Llama, block 0 attention) within 1e-5 of float64', async () => {
    expect(await farRotaryError('webgpu')).toBeLessThan(1e-5);
  });
});
