/**
 * `npm run -s loupe -- forward` as a pipeline runs it: a real process writing
 * a safetensors file whose tensors equal the Hugging Face reference of the
 * demo model, and clear errors (exit 2, no file) for bad usage.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, toFloat32 } from '../../models/safetensors.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(ROOT, 'demo/models/tiny-gpt2-debian-6l');

function loupe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/loupe.ts', ...args], { cwd: ROOT, env: { ...process.env, LOUPE_DEVICE: 'cpu' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'loupe-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('loupe forward', () => {
  it('writes logits and hook values named as the hooks, equal to the HF reference', async () => {
    const ref = await openSafetensors(path.join(DEMO, 'reference.safetensors'));
    const ids = Array.from((await ref.read('prompt1.input_ids')) as BigInt64Array, Number);
    const out = path.join(tmp, 'fwd.safetensors');
    const hooks = ['blocks.2.hook_resid_post', 'blocks.5.attn.hook_pattern', 'ln_final.hook_normalized'];
    const r = await loupe(['forward', '--model', DEMO, '--ids', ids.join(','), '--hooks', hooks.join(','), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { tensors: Record<string, number[]> };
    expect(summary.tensors['blocks.2.hook_resid_post']).toEqual([1, ids.length, 256]);

    const file = await openSafetensors(out);
    expect([...file.tensors.keys()].sort()).toEqual(['logits', ...hooks].sort());
    const pairs: [string, string][] = [
      ['logits', 'prompt1.logits'],
      ['blocks.2.hook_resid_post', 'prompt1.resid_post.2'],
      ['blocks.5.attn.hook_pattern', 'prompt1.attn_pattern.5'],
      ['ln_final.hook_normalized', 'prompt1.final_norm'],
    ];
    for (const [mine, theirs] of pairs) {
      const a = (await file.read(mine)) as Float32Array;
      const info = ref.tensors.get(theirs)!;
      const b = toFloat32(info.dtype, await ref.read(theirs));
      expect(file.tensors.get(mine)!.shape).toEqual(info.shape);
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
      expect(worst, mine).toBeLessThanOrEqual(1e-4);
    }
    await file.close();
    await ref.close();
  });

  it('tokenizes --text with the model tokenizer and runs quantized dtypes', async () => {
    const out = path.join(tmp, 'q4.safetensors');
    const r = await loupe(['forward', '--model', DEMO, '--text', 'In the beginning God created the heaven and the earth.', '--dtype', 'q4', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { tokens: number; dtype: string };
    expect(summary).toMatchObject({ tokens: 11, dtype: 'q4' });
  });

  it.each([
    [['forward', '--ids', '1,2', '--out', 'x.safetensors'], /--model DIR is required/],
    [['forward', '--model', DEMO, '--ids', '1,-2', '--out', 'x.safetensors'], /--ids: "-2" is not a non-negative integer/],
    [['forward', '--model', DEMO, '--ids', '1,99999', '--out', 'x.safetensors'], /--ids: 99999 is not below the vocabulary size 8192/],
    [['forward', '--model', DEMO, '--ids', '1', '--hooks', 'blocks.9.hook_resid_post', '--out', 'x.safetensors'], /--hooks: unknown hook point blocks\.9\.hook_resid_post/],
    [['forward', '--model', DEMO, '--ids', '1', '--dtype', 'int3', '--out', 'x.safetensors'], /--dtype: "int3" is not one of fp32, fp16, q8, q4/],
    [['forward', '--model', '/nonexistent', '--ids', '1', '--out', 'x.safetensors'], /--model: \/nonexistent is not a folder/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('refuses %j with exit 2 and a message naming the problem', async (args, message) => {
    const out = path.join(tmp, 'x.safetensors');
    const r = await loupe(args.map((a) => (a === 'x.safetensors' ? out : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
