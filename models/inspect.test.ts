import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { inspectModel } from './inspect.ts';

const DEMO = path.resolve(import.meta.dirname, '../demo/models/tiny-gpt2-debian-6l');
const FIXTURES = path.join(import.meta.dirname, 'architectures/fixtures');

describe('inspectModel', () => {
  it('counts the demo model parameters exactly as HF does, per layer, with hook shapes', async () => {
    const info = await inspectModel(DEMO);
    const ref = JSON.parse(await readFile(path.join(DEMO, 'reference.json'), 'utf8')) as { num_parameters: number };
    expect(info.parameters.total).toBe(ref.num_parameters);
    const d = 256;
    const dMlp = 1024;
    // GPT-2 block: 2 LayerNorms, c_attn, c_proj, c_fc, c_proj with biases
    const block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * dMlp + dMlp) + (dMlp * d + d);
    expect(info.parameters.perLayer).toEqual(new Array(6).fill(block));
    expect(info.parameters.embedding).toBe(8192 * d + info.contextLength * d);
    expect(info).toMatchObject({ modelType: 'gpt2', layers: 6, dModel: d, nHeads: 8, dHead: 32, dMlp, vocabSize: 8192, positions: 'learned', norm: 'layer' });
    const hp = new Map(info.hookPoints.map((h) => [h.name, h]));
    expect(hp.get('blocks.3.hook_resid_post')).toEqual({ name: 'blocks.3.hook_resid_post', layer: 3, shape: ['batch', 'pos', d] });
    expect(hp.get('blocks.0.attn.hook_pattern')!.shape).toEqual(['batch', 8, 'pos', 'pos']);
    expect(hp.get('blocks.5.mlp.hook_post')!.shape).toEqual(['batch', 'pos', dMlp]);
    expect(info.hookPoints.filter((h) => h.layer === 2)).toHaveLength(9);
    // fp32 is 4 bytes a parameter; each smaller dtype is smaller
    expect(info.dtypeBytes.fp32).toBe(4 * info.parameters.total);
    expect(info.dtypeBytes.fp16).toBeLessThan(info.dtypeBytes.fp32 * 0.55);
    expect(info.dtypeBytes.q8).toBeLessThan(info.dtypeBytes.fp16);
    expect(info.dtypeBytes.q4).toBeLessThan(info.dtypeBytes.q8);
    // the demo's file stores F16 weights: about 2 bytes a parameter on disk, whatever dtype it loads at
    expect(info.weightsDtype).toBe('F16');
  });

  it('matches the parameter count HF reports for every fixture family', async () => {
    for (const arch of ['gpt2', 'gpt_neo', 'gpt_neox', 'llama', 'mistral', 'qwen2', 'gemma2', 'phi3', 'opt']) {
      const info = await inspectModel(path.join(FIXTURES, arch));
      const ref = JSON.parse(await readFile(path.join(FIXTURES, arch, 'reference.json'), 'utf8')) as { num_parameters: number };
      expect(info.parameters.total, arch).toBe(ref.num_parameters);
      expect(info.parameters.perLayer.every((n) => n > 0), arch).toBe(true);
    }
  });
});
