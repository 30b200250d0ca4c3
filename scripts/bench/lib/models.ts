/** Model checkpoints for benchmarks. */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../../models/safetensors.ts';

/** N(0, std²) from a seeded xorshift + Box-Muller, quickly. */
function normal(n: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())) * std;
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** A GPT-2-small-shaped checkpoint with random weights, made once under the OS temp dir. */
export async function randomGpt2Small(): Promise<string> {
  const dir = path.join(os.tmpdir(), 'loupe-bench-gpt2-small-random');
  if (existsSync(path.join(dir, 'model.safetensors'))) return dir;
  const d = 768;
  const L = 12;
  const V = 50257;
  const P = 1024;
  await mkdir(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  let seed = 1;
  const put = (name: string, shape: number[], std: number, mean = 0) => {
    const data = normal(shape.reduce((a, b) => a * b, 1), std, seed++);
    if (mean) for (let i = 0; i < data.length; i++) data[i] = data[i]! + mean;
    tensors[name] = { dtype: 'F32', shape, data };
  };
  put('transformer.wte.weight', [V, d], 0.02);
  put('transformer.wpe.weight', [P, d], 0.01);
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}`;
    put(`${p}.ln_1.weight`, [d], 0.02, 1);
    put(`${p}.ln_1.bias`, [d], 0.02);
    put(`${p}.attn.c_attn.weight`, [d, 3 * d], 0.02);
    put(`${p}.attn.c_attn.bias`, [3 * d], 0.02);
    put(`${p}.attn.c_proj.weight`, [d, d], 0.02 / Math.sqrt(2 * L));
    put(`${p}.attn.c_proj.bias`, [d], 0.02);
    put(`${p}.ln_2.weight`, [d], 0.02, 1);
    put(`${p}.ln_2.bias`, [d], 0.02);
    put(`${p}.mlp.c_fc.weight`, [d, 4 * d], 0.02);
    put(`${p}.mlp.c_fc.bias`, [4 * d], 0.02);
    put(`${p}.mlp.c_proj.weight`, [4 * d, d], 0.02 / Math.sqrt(2 * L));
    put(`${p}.mlp.c_proj.bias`, [d], 0.02);
  }
  put('transformer.ln_f.weight', [d], 0.02, 1);
  put('transformer.ln_f.bias', [d], 0.02);
  const config = { model_type: 'gpt2', n_embd: d, n_head: 12, n_layer: L, n_positions: P, vocab_size: V, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true };
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  await writeFile(path.join(dir, 'config.json.tmp'), JSON.stringify(config, null, 2));
  await rename(path.join(dir, 'config.json.tmp'), path.join(dir, 'config.json'));
  return dir;
}

