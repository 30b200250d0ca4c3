/**
 * The architecture checks run on every device the tests have (the CPU lane
 * and the WebGPU lane): each family's tiny checkpoint against Hugging Face
 * transformers' own outputs (models/architectures/fixtures), and a rotary
 * model read past position 2,000 against a float64 reference.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel } from '../../models/model.ts';
import type { Device } from '../../models/runtime.ts';
import { openSafetensors, toFloat32 } from '../../models/safetensors.ts';

export const FIXTURES = path.resolve(import.meta.dirname, '../../models/architectures/fixtures');
export const FAMILIES = ['gpt2', 'gpt_neo', 'gpt_neox', 'llama', 'mistral', 'qwen2', 'gemma2', 'phi3', 'opt'] as const;

/** max over elements of |a - b| / max(1, |b|): absolute below 1, relative above */
function maxError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

/**
 * A family's fixture through Loupe on `device` (fp32): logits, every
 * residual stream, the final norm and every attention pattern of both
 * prompts, each as its largest error against the reference (see
 * {@link maxError}), by `prompt.tensor`. Throws when a shape differs.
 */
export async function fixtureErrors(arch: string, device: Device): Promise<Record<string, number>> {
  const dir = path.join(FIXTURES, arch);
  const model = await loadModel(dir, { dtype: 'fp32', device });
  const ref = await openSafetensors(path.join(dir, 'reference.safetensors'));
  try {
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
        const dims = got[hook]!.dims;
        if (dims.join() !== info.shape.join()) throw new Error(`${arch} ${prompt}.${refName}: shape [${dims.join(', ')}], the reference's [${info.shape.join(', ')}]`);
        errors[`${prompt}.${refName}`] = maxError(got[hook]!.data, want);
      }
    }
    return errors;
  } finally {
    await ref.close();
    await model.close();
  }
}

/** Query positions of {@link farRotaryError}: past 2,000. */
export const FAR = { from: 2000, to: 2100 } as const;

/**
 * The Llama fixture, its context widened to 4,096, read over 2,100 tokens:
 * `blocks.0.attn.hook_z` at positions 2,000–2,099 against block 0's
 * attention computed here in float64 (RMSNorm, q/k/v, rotate-half rotary
 * with θ from config.json, grouped-query heads, causal softmax). Returns
 * max |Δz| / max |z| over those rows.
 */
export async function farRotaryError(device: Device): Promise<number> {
  const src = path.join(FIXTURES, 'llama');
  const dir = await mkdtemp(path.join(tmpdir(), 'loupe-far-rope-'));
  try {
    await cp(src, dir, { recursive: true });
    const config = JSON.parse(await readFile(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: 4096 }));
    const d = config.hidden_size as number;
    const H = config.num_attention_heads as number;
    const KV = config.num_key_value_heads as number;
    const dh = config.head_dim as number;
    const eps = config.rms_norm_eps as number;
    const theta = (config.rope_parameters as { rope_theta: number }).rope_theta;
    const vocab = config.vocab_size as number;
    const T = FAR.to;
    const ids = BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 7919 + 13) % vocab));

    const model = await loadModel(dir, { dtype: 'fp32', device });
    let z: Float32Array;
    try {
      z = (await model.forward(ids, [1, T], ['blocks.0.attn.hook_z']))['blocks.0.attn.hook_z']!.data; // [1, T, H, dh]
    } finally {
      await model.close();
    }

    const ck = await openSafetensors(path.join(dir, 'model.safetensors'));
    const read = async (n: string) => Float64Array.from(toFloat32(ck.tensors.get(n)!.dtype, await ck.read(n)));
    const E = await read('model.embed_tokens.weight');
    const g = await read('model.layers.0.input_layernorm.weight');
    const Wq = await read('model.layers.0.self_attn.q_proj.weight'); // [H·dh, d]
    const Wk = await read('model.layers.0.self_attn.k_proj.weight'); // [KV·dh, d]
    const Wv = await read('model.layers.0.self_attn.v_proj.weight');
    await ck.close();

    const proj = (W: Float64Array, x: Float64Array, out: number) => Float64Array.from({ length: out }, (_, o) => x.reduce((s, v, i) => s + v * W[o * d + i]!, 0));
    const rope = (v: Float64Array, heads: number, p: number) => {
      const out = new Float64Array(v.length);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < dh / 2; i++) {
          const a = p * Math.pow(theta, (-2 * i) / dh);
          const x1 = v[h * dh + i]!;
          const x2 = v[h * dh + i + dh / 2]!;
          out[h * dh + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
          out[h * dh + i + dh / 2] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
      }
      return out;
    };
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    for (let p = 0; p < T; p++) {
      const e = E.subarray(Number(ids[p]!) * d, (Number(ids[p]!) + 1) * d);
      const rms = Math.sqrt(e.reduce((s, x) => s + x * x, 0) / d + eps);
      const x = Float64Array.from(e, (xi, i) => (xi / rms) * g[i]!);
      if (p >= FAR.from) q[p] = rope(proj(Wq, x, H * dh), H, p);
      k[p] = rope(proj(Wk, x, KV * dh), KV, p);
      v[p] = proj(Wv, x, KV * dh);
    }
    let worst = 0;
    let scale = 0;
    const scores = new Float64Array(T);
    for (let p = FAR.from; p < T; p++) {
      for (let h = 0; h < H; h++) {
        const kv = Math.floor(h / (H / KV));
        let m = -Infinity;
        for (let s = 0; s <= p; s++) {
          let dot = 0;
          for (let i = 0; i < dh; i++) dot += q[p]![h * dh + i]! * k[s]![kv * dh + i]!;
          scores[s] = dot / Math.sqrt(dh);
          m = Math.max(m, scores[s]!);
        }
        let sum = 0;
        for (let s = 0; s <= p; s++) sum += scores[s] = Math.exp(scores[s]! - m);
        for (let i = 0; i < dh; i++) {
          let want = 0;
          for (let s = 0; s <= p; s++) want += (scores[s]! / sum) * v[s]![kv * dh + i]!;
          worst = Math.max(worst, Math.abs(z[(p * H + h) * dh + i]! - want));
          scale = Math.max(scale, Math.abs(want));
        }
      }
    }
    return worst / scale;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
