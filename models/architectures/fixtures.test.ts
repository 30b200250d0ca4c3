/**
 * Every supported family against Hugging Face transformers' own forward pass
 * on the tiny random checkpoints in fixtures/ (copied from
 * ../shared/fixtures/architectures, with their README; fp32, CPU): logits, every residual stream, the final norm and every attention
 * pattern, within 1e-4 absolute or relative.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../model.ts';
import { openSafetensors, toFloat32 } from '../safetensors.ts';

const ROOT = path.join(import.meta.dirname, 'fixtures');
const FAMILIES = ['gpt2', 'gpt_neo', 'gpt_neox', 'llama', 'mistral', 'qwen2', 'gemma2', 'phi3', 'opt'];

/** max over elements of |a - b| / max(1, |b|): absolute below 1, relative above */
function maxError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

describe('architectures match Hugging Face transformers (fp32)', () => {
  const models: LoadedModel[] = [];
  afterAll(async () => {
    await Promise.all(models.map((m) => m.close()));
  });

  for (const arch of FAMILIES) {
    it(arch, async () => {
      const dir = path.join(ROOT, arch);
      const model = await loadModel(dir, { dtype: 'fp32', device: 'cpu' });
      models.push(model);
      const ref = await openSafetensors(path.join(dir, 'reference.safetensors'));
      const L = model.spec.nLayers;
      const outputs: Record<string, string> = { logits: 'logits', final_norm: 'ln_final.hook_normalized', embed: 'blocks.0.hook_resid_pre' };
      for (let l = 0; l < L; l++) {
        outputs[`resid_post.${l}`] = `blocks.${l}.hook_resid_post`;
        outputs[`attn_pattern.${l}`] = `blocks.${l}.attn.hook_pattern`;
      }
      const errors: Record<string, number> = {};
      for (const prompt of ['prompt0', 'prompt1']) {
        const ids = (await ref.read(`${prompt}.input_ids`)) as BigInt64Array;
        const got = await model.forward(ids, [1, ids.length], Object.values(outputs));
        for (const [refName, hook] of Object.entries(outputs)) {
          const info = ref.tensors.get(`${prompt}.${refName}`)!;
          const want = toFloat32(info.dtype, await ref.read(info.name));
          expect(got[hook]!.dims, `${prompt}.${refName} shape`).toEqual(info.shape);
          errors[`${prompt}.${refName}`] = maxError(got[hook]!.data, want);
        }
      }
      await ref.close();
      if (process.env.LOUPE_PRINT_ERRORS) console.log(arch, errors);
      const bad = Object.entries(errors).filter(([, e]) => !(e <= 1e-4));
      expect(bad, `tensors off by more than 1e-4: ${JSON.stringify(bad)}`).toEqual([]);
    });
  }
});
