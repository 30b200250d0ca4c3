/**
 * The model checks on real files: every fixture family and the demo model
 * pass; a config out of bounds is refused naming the field before anything is
 * sized from it; weights that are malformed or do not match the config are
 * refused naming the file and the tensor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MODEL_LIMITS } from './architectures/limits.ts';
import { checkModelFolder, checkedSpec, checkImpliedSize, isPermanentModelError, ModelFormatError } from './model-check.ts';
import { DEMO_MODEL_DIR, readModelConfig } from './model-files.ts';
import { inspectModel } from './inspect.ts';
import { loadModel } from './model.ts';
import { copyTinyModel, TINY_GPT2_DIR, WEIGHT_CORRUPTIONS } from '../scripts/testing/bad-models.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'architectures/fixtures');
const FAMILIES = ['gpt2', 'gpt_neo', 'gpt_neox', 'llama', 'mistral', 'qwen2', 'gemma2', 'phi3', 'opt'];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-model-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The error a promise rejects with (it must reject). */
async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, 'expected a rejection').toBeInstanceOf(Error);
  return err!;
}

describe('model checks', () => {
  it('accept every fixture family and the demo model', async () => {
    for (const family of FAMILIES) {
      const { spec } = await checkModelFolder(path.join(FIXTURES, family));
      expect(spec.nLayers, family).toBe(2);
    }
    const demo = await checkModelFolder(DEMO_MODEL_DIR);
    expect(demo.spec).toMatchObject({ modelType: 'gpt2', nLayers: 6, dModel: 256 });
  });

  it('refuse a config of a billion layers and a billion-wide hidden size at once, naming the field, before anything is allocated', async () => {
    const dir = copyTinyModel(path.join(tmp, 'huge'), { n_layer: 1e9, n_embd: 1e9 });
    const before = process.memoryUsage().heapUsed;
    // every rejection handled at once: none is left unhandled while another is awaited
    for (const err of await Promise.all([checkModelFolder(dir), inspectModel(dir), loadModel(dir)].map(failure))) {
      expect(err).toBeInstanceOf(ModelFormatError);
      expect(err.message).toBe(`config.json: "n_layer" is 1,000,000,000; Loupe accepts models with at most ${MODEL_LIMITS.MAX_LAYERS.toLocaleString('en-US')} layers`);
      expect(isPermanentModelError(err)).toBe(true);
    }
    // no array per layer was made on the way (1e9 entries would be gigabytes)
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 << 20);
    const base = await readModelConfig(TINY_GPT2_DIR);
    expect(() => checkedSpec({ ...base, n_embd: 1e9 })).toThrow(/"n_embd" is 1,000,000,000; Loupe accepts models with at most 65,536 hidden size/);
  });

  it('refuse inconsistent or malformed configs with the reason', async () => {
    const base = await readModelConfig(TINY_GPT2_DIR);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ n_head: 3 }, /hidden size 64 \/ 3 heads \(or head_dim\) gives a head dimension of 21\.3+\d*, not a positive whole number/],
      [{ n_layer: 0 }, /"n_layer" must be a positive whole number \(the layers\), got 0/],
      [{ n_layer: 2.5 }, /"n_layer" must be a positive whole number/],
      [{ vocab_size: '512' }, /"vocab_size" must be a positive whole number \(the vocabulary size\), got "512"/],
      [{ n_positions: 1e12 }, /"n_positions" is 1,000,000,000,000; Loupe accepts models with at most 4,194,304 positions/],
      [{ n_embd: undefined, hidden_size: undefined }, /missing number "n_embd" or "hidden_size"/],
      [{ model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, max_position_embeddings: 64, partial_rotary_factor: 1e9 }, /"partial_rotary_factor" must be a fraction in \(0, 1\], got 1000000000/],
      [{ model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 3, num_hidden_layers: 2, intermediate_size: 128, max_position_embeddings: 64 }, /4 attention heads are not a multiple of 3 key\/value heads/],
      [{ model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, max_position_embeddings: 64, layer_types: new Array(5000).fill('full_attention') }, /"layer_types" lists 5,000 layers/],
      [{ model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, max_position_embeddings: 64, layer_types: ['full_attention'] }, /1 per-layer attention windows for 2 layers/],
    ];
    for (const [change, message] of cases) {
      let err: unknown;
      try {
        checkedSpec({ ...base, ...change });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(change).slice(0, 80)).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('refuse a config whose dimensions the weights cannot hold, with both sizes', async () => {
    const dir = copyTinyModel(path.join(tmp, 'inflated'), { n_layer: 40, n_embd: 1024, n_head: 16 });
    const err = await failure(checkModelFolder(dir));
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(/^config\.json implies at least [\d,]+ parameters \([\d.]+ GiB at 2 bytes each\), but the safetensors files hold 0\.001 GiB/);
    // the same config with room enough in the files passes that check
    const spec = checkedSpec(await readModelConfig(dir));
    expect(() => checkImpliedSize(spec, 1e12)).not.toThrow();
  });

  for (const [name, c] of Object.entries(WEIGHT_CORRUPTIONS)) {
    it(`refuse weights with ${name}, naming the file and tensor`, async () => {
      const dir = copyTinyModel(path.join(tmp, name.replace(/\W+/g, '-')));
      c.apply(path.join(dir, 'model.safetensors'));
      const err = await failure(checkModelFolder(dir));
      expect(err).toBeInstanceOf(ModelFormatError);
      expect(err.message).toMatch(c.expect);
      expect(err.message).toContain(name === 'missing tensor' ? dir : path.join(dir, 'model.safetensors'));
      // the architecture endpoint's reader says the same; loading the model (an extraction) fails in a way no retry repeats
      expect((await failure(inspectModel(dir))).message).toMatch(c.expect);
      expect(isPermanentModelError(await failure(loadModel(dir, { device: 'cpu' })))).toBe(true);
    });
  }
});
