/**
 * SAEs on disk in SAELens' layout: a folder with `cfg.json` and
 * `sae_weights.safetensors` (W_enc [d_in, d_sae], b_enc [d_sae], W_dec
 * [d_sae, d_in], b_dec [d_in], and threshold [d_sae] for JumpReLU, float32). cfg.json is written in SAELens 6's
 * form (architecture, d_in, d_sae, dtype, apply_b_dec_to_input,
 * normalize_activations, metadata{model_name, hook_name, …}) with the older
 * top-level hook fields as well, and read in either form.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openSafetensors, toFloat32, writeSafetensors } from '../safetensors.ts';
import type { SaeArchitecture } from './graph.ts';
import type { SaeWeights } from './stepper.ts';

export interface SaeConfig {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  k: number | null;
  hookName: string;
  hookLayer: number | null;
  modelName: string;
  contextSize: number | null;
  prependBos: boolean;
  normalizeActivations: 'none' | 'expected_average_only_in' | 'constant_norm_rescale';
  /** fields of the original cfg.json kept as they were */
  extra: Record<string, unknown>;
}

/** BatchTopK SAEs are JumpReLU SAEs at inference (one threshold for every feature), as SAELens saves them. */
const ARCH_TO_SAELENS: Record<SaeArchitecture, string> = { relu: 'standard', topk: 'topk', batchtopk: 'jumprelu', jumprelu: 'jumprelu' };

export class SaeFormatError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SaeFormatError';
  }
}

export function toSaeLensCfg(c: SaeConfig): Record<string, unknown> {
  const metadata = { model_name: c.modelName, hook_name: c.hookName, hook_head_index: null, prepend_bos: c.prependBos, context_size: c.contextSize, sae_lens_training_version: null, loupe: true };
  return {
    ...c.extra,
    architecture: ARCH_TO_SAELENS[c.architecture],
    d_in: c.dIn,
    d_sae: c.dSae,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: true,
    normalize_activations: c.normalizeActivations,
    reshape_activations: 'none',
    ...(c.k !== null ? { k: c.k } : {}),
    metadata,
    // SAELens < 6 kept these at the top level
    model_name: c.modelName,
    hook_name: c.hookName,
    hook_layer: c.hookLayer ?? -1,
    context_size: c.contextSize,
    prepend_bos: c.prependBos,
    activation_fn_str: c.architecture === 'topk' ? 'topk' : c.architecture === 'relu' ? 'relu' : 'jumprelu',
    ...(c.k !== null ? { activation_fn_kwargs: { k: c.k } } : {}),
  };
}

export function fromSaeLensCfg(file: string, raw: Record<string, unknown>): SaeConfig {
  const meta = (raw.metadata && typeof raw.metadata === 'object' ? raw.metadata : {}) as Record<string, unknown>;
  const pick = (k: string) => (k in raw ? raw[k] : meta[k]);
  const arch = String(raw.architecture ?? (raw.activation_fn_str === 'topk' ? 'topk' : 'standard'));
  const architecture: SaeArchitecture | undefined = arch === 'standard' || arch === 'relu' ? 'relu' : arch === 'topk' ? 'topk' : arch === 'jumprelu' ? 'jumprelu' : undefined;
  if (!architecture) throw new SaeFormatError(file, `architecture "${arch}" is not supported (standard, topk, jumprelu)`);
  const num = (k: string) => {
    const v = pick(k);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new SaeFormatError(file, `"${k}" must be a positive integer`);
    return v;
  };
  const kwargs = (raw.activation_fn_kwargs ?? {}) as Record<string, unknown>;
  const k = typeof raw.k === 'number' ? raw.k : typeof kwargs.k === 'number' ? kwargs.k : null;
  if (architecture === 'topk' && k === null) throw new SaeFormatError(file, 'a topk SAE needs "k"');
  const dIn = num('d_in');
  const dSae = num('d_sae');
  // A k the encoder cannot use (TopK of 0, -1, 1.5 or more features than there are) is refused here, not at the first encode.
  if (k !== null && !(Number.isSafeInteger(k) && k >= 1 && k <= dSae)) throw new SaeFormatError(file, `"k" must be a whole number from 1 to d_sae (${dSae}), not ${k}`);
  const hookName = pick('hook_name');
  if (typeof hookName !== 'string' || !hookName) throw new SaeFormatError(file, '"hook_name" is missing');
  const norm = String(raw.normalize_activations ?? 'none');
  if (!['none', 'expected_average_only_in', 'constant_norm_rescale'].includes(norm)) throw new SaeFormatError(file, `normalize_activations "${norm}" is not supported`);
  const layer = pick('hook_layer');
  const ctx = pick('context_size');
  return {
    architecture,
    dIn,
    dSae,
    k,
    hookName,
    // hook_layer -1 (SAELens' "unknown") or anything but a layer number: taken from the hook name
    hookLayer: Number.isSafeInteger(layer) && (layer as number) >= 0 ? (layer as number) : layerOf(hookName),
    modelName: String(pick('model_name') ?? ''),
    contextSize: Number.isSafeInteger(ctx) && (ctx as number) > 0 ? (ctx as number) : null,
    prependBos: pick('prepend_bos') !== false,
    normalizeActivations: norm as SaeConfig['normalizeActivations'],
    extra: raw,
  };
}

function layerOf(hook: string): number | null {
  const m = /^blocks\.(\d{1,9})\./.exec(hook);
  return m ? Number(m[1]) : null;
}

/** Writes an SAE folder (files renamed into place). */
export async function saveSae(dir: string, cfg: SaeConfig, w: SaeWeights): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const { dIn, dSae } = cfg;
  const jump = ARCH_TO_SAELENS[cfg.architecture] === 'jumprelu';
  if (jump && w.threshold?.length !== dSae) throw new Error(`a ${cfg.architecture} SAE is saved with a threshold of ${dSae} values`);
  await writeSafetensors(path.join(dir, 'sae_weights.safetensors'), {
    W_enc: { dtype: 'F32', shape: [dIn, dSae], data: w.W_enc },
    b_enc: { dtype: 'F32', shape: [dSae], data: w.b_enc },
    W_dec: { dtype: 'F32', shape: [dSae, dIn], data: w.W_dec },
    b_dec: { dtype: 'F32', shape: [dIn], data: w.b_dec },
    ...(jump ? { threshold: { dtype: 'F32' as const, shape: [dSae], data: w.threshold! } } : {}),
  });
  const tmp = path.join(dir, '.cfg.json.tmp');
  await fs.writeFile(tmp, JSON.stringify(toSaeLensCfg(jump ? { ...cfg, architecture: 'jumprelu', k: null } : cfg), null, 2));
  await fs.rename(tmp, path.join(dir, 'cfg.json'));
}

/** Reads an SAE folder in SAELens layout, checking shapes against cfg.json. */
export async function loadSae(dir: string): Promise<{ cfg: SaeConfig; weights: SaeWeights }> {
  const cfgFile = path.join(dir, 'cfg.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(cfgFile, 'utf8'));
  } catch (err) {
    throw new SaeFormatError(cfgFile, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON (${(err as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SaeFormatError(cfgFile, 'not a JSON object');
  const cfg = fromSaeLensCfg(cfgFile, raw as Record<string, unknown>);
  const file = await openSafetensors(path.join(dir, 'sae_weights.safetensors'));
  try {
    const read = async (name: keyof SaeWeights, shape: number[]) => {
      const info = file.tensors.get(name);
      if (!info) throw new SaeFormatError(file.path, `no tensor "${name}"`);
      if (info.shape.join() !== shape.join()) throw new SaeFormatError(file.path, `"${name}" is [${info.shape.join(', ')}], cfg.json says [${shape.join(', ')}]`);
      return toFloat32(info.dtype, await file.read(name));
    };
    const weights: SaeWeights = {
      W_enc: await read('W_enc', [cfg.dIn, cfg.dSae]),
      b_enc: await read('b_enc', [cfg.dSae]),
      W_dec: await read('W_dec', [cfg.dSae, cfg.dIn]),
      b_dec: await read('b_dec', [cfg.dIn]),
    };
    if (cfg.architecture === 'jumprelu') weights.threshold = await read('threshold', [cfg.dSae]);
    return { cfg, weights };
  } finally {
    await file.close();
  }
}
