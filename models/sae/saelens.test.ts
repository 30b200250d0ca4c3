import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../safetensors.ts';
import { loadSae, saveSae, type SaeConfig } from './saelens.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tmp() {
  const d = await mkdtemp(path.join(tmpdir(), 'loupe-sae-'));
  dirs.push(d);
  return d;
}
const seq = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));

describe('SAELens layout', () => {
  it('round-trips weights and config, and writes the fields SAELens reads', async () => {
    const dir = await tmp();
    const cfg: SaeConfig = { architecture: 'topk', dIn: 4, dSae: 6, k: 2, hookName: 'blocks.3.hook_resid_post', hookLayer: 3, modelName: 'tiny-gpt2', contextSize: 128, prependBos: false, normalizeActivations: 'none', extra: {} };
    const w = { W_enc: seq(24, 1), b_enc: seq(6, 2), W_dec: seq(24, 3), b_dec: seq(4, 4) };
    await saveSae(dir, cfg, w);
    const raw = JSON.parse(await readFile(path.join(dir, 'cfg.json'), 'utf8'));
    expect(raw).toMatchObject({ architecture: 'topk', d_in: 4, d_sae: 6, k: 2, dtype: 'float32', apply_b_dec_to_input: true, normalize_activations: 'none', metadata: { hook_name: 'blocks.3.hook_resid_post', model_name: 'tiny-gpt2', context_size: 128, prepend_bos: false }, hook_name: 'blocks.3.hook_resid_post', hook_layer: 3 });
    const back = await loadSae(dir);
    expect(back.cfg).toMatchObject({ architecture: 'topk', dIn: 4, dSae: 6, k: 2, hookName: 'blocks.3.hook_resid_post', hookLayer: 3, contextSize: 128, prependBos: false });
    for (const n of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expect(Array.from(back.weights[n])).toEqual(Array.from(w[n]));
  });

  it('reads an SAELens 5-style cfg.json (top-level hook fields, standard architecture)', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: 2, d_sae: 3, hook_name: 'blocks.0.hook_resid_pre', hook_layer: 0, model_name: 'gpt2', dtype: 'torch.float32', normalize_activations: 'none', context_size: 64 }));
    await writeSafetensors(path.join(dir, 'sae_weights.safetensors'), {
      W_enc: { dtype: 'F32', shape: [2, 3], data: seq(6, 1) },
      b_enc: { dtype: 'F32', shape: [3], data: seq(3, 1) },
      W_dec: { dtype: 'F32', shape: [3, 2], data: seq(6, 2) },
      b_dec: { dtype: 'F32', shape: [2], data: seq(2, 2) },
    });
    const { cfg } = await loadSae(dir);
    expect(cfg).toMatchObject({ architecture: 'relu', dIn: 2, dSae: 3, k: null, hookName: 'blocks.0.hook_resid_pre', hookLayer: 0, modelName: 'gpt2' });
  });

  it('names the file and the field of a bad SAE', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'cfg.json'), JSON.stringify({ architecture: 'gated', d_in: 2, d_sae: 3, hook_name: 'x' }));
    await expect(loadSae(dir)).rejects.toThrow(/cfg\.json: architecture "gated" is not supported/);
    await writeFile(path.join(dir, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: 2, d_sae: 3, hook_name: 'x' }));
    await writeSafetensors(path.join(dir, 'sae_weights.safetensors'), {
      W_enc: { dtype: 'F32', shape: [3, 2], data: seq(6, 1) },
      b_enc: { dtype: 'F32', shape: [3], data: seq(3, 1) },
      W_dec: { dtype: 'F32', shape: [3, 2], data: seq(6, 2) },
      b_dec: { dtype: 'F32', shape: [2], data: seq(2, 2) },
    });
    await expect(loadSae(dir)).rejects.toThrow(/sae_weights\.safetensors: "W_enc" is \[3, 2\], cfg\.json says \[2, 3\]/);
  });
});
