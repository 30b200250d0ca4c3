/**
 * The parameters of a checkpoint by Hugging Face name, from one
 * `model.safetensors` or shards listed in `model.safetensors.index.json`,
 * read one tensor at a time and decoded to float32.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openSafetensors, toFloat32, type Dtype, type SafetensorsFile, type TensorInfo } from '../safetensors.ts';
import { ModelFormatError } from './limits.ts';
import type { Linear, Norm } from './spec.ts';

export interface WeightSource {
  has(name: string): boolean;
  shape(name: string): readonly number[];
  /** Reads a tensor as float32, checking its shape when `shape` is given. */
  get(name: string, shape?: readonly number[]): Promise<Float32Array>;
  /** The first name present among candidates (checkpoints differ in prefixes). */
  pick(...names: string[]): string;
  names(): string[];
  /** The file that holds a tensor, and its stored element type. */
  fileOf(name: string): string;
  dtypeOf(name: string): Dtype;
  close(): Promise<void>;
}

/** Element types a weight may be stored as (read as float32). */
export const FLOAT_DTYPES: ReadonlySet<Dtype> = new Set(['F32', 'F16', 'BF16', 'F64']);

export async function openWeights(dir: string): Promise<WeightSource> {
  const index = path.join(dir, 'model.safetensors.index.json');
  let files: string[];
  try {
    const parsed = JSON.parse(await fs.readFile(index, 'utf8')) as { weight_map?: Record<string, string> };
    if (!parsed.weight_map || typeof parsed.weight_map !== 'object') throw new Error(`${index}: no "weight_map"`);
    files = [...new Set(Object.values(parsed.weight_map))].map((f) => {
      if (f.includes('/') || f.includes('\\') || f.startsWith('.')) throw new Error(`${index}: shard name "${f}" is not a plain file name`);
      return path.join(dir, f);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    files = [path.join(dir, 'model.safetensors')];
  }
  const opened: SafetensorsFile[] = [];
  const where = new Map<string, { file: SafetensorsFile; info: TensorInfo }>();
  try {
    for (const f of files) {
      const file = await openSafetensors(f);
      opened.push(file);
      for (const [name, info] of file.tensors) where.set(name, { file, info });
    }
  } catch (err) {
    await Promise.all(opened.map((f) => f.close()));
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${dir}: no model.safetensors (or model.safetensors.index.json) found`);
    throw err;
  }
  const entry = (name: string) => {
    const e = where.get(name);
    if (!e) throw new ModelFormatError(`${dir}: the checkpoint has no parameter "${name}"`, { tensor: name });
    return e;
  };
  return {
    has: (name) => where.has(name),
    shape: (name) => entry(name).info.shape,
    async get(name, shape) {
      const { file, info } = entry(name);
      if (shape && (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))) {
        throw new ModelFormatError(`${file.path}: parameter "${name}" has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`, { file: file.path, tensor: name });
      }
      if (!FLOAT_DTYPES.has(info.dtype)) throw new ModelFormatError(`${file.path}: parameter "${name}" is ${info.dtype}; model weights must be F32, F16, BF16 or F64`, { file: file.path, tensor: name });
      return toFloat32(info.dtype, await file.read(name));
    },
    pick(...names) {
      const found = names.find((n) => where.has(n));
      if (!found) throw new ModelFormatError(`${dir}: the checkpoint has none of the parameters ${names.map((n) => `"${n}"`).join(', ')}`, { tensor: names[0] });
      return found;
    },
    names: () => [...where.keys()],
    fileOf: (name) => entry(name).file.path,
    dtypeOf: (name) => entry(name).info.dtype,
    close: async () => {
      await Promise.all(opened.map((f) => f.close()));
    },
  };
}

/** A torch.nn.Linear [out, in] (+ bias when the checkpoint has one). */
export async function readLinear(src: WeightSource, name: string, outF: number, inF: number): Promise<Linear> {
  const w = await src.get(`${name}.weight`, [outF, inF]);
  const b = src.has(`${name}.bias`) ? await src.get(`${name}.bias`, [outF]) : undefined;
  return { w, layout: 'out_in', inFeatures: inF, outFeatures: outF, b };
}

/** Rows [from, from + n) of a Linear, as a Linear of its own (for fused projections). */
export function linearRows(l: Linear, from: number, n: number): Linear {
  if (l.layout !== 'out_in') throw new Error('linearRows needs an [out, in] weight');
  return {
    w: l.w.slice(from * l.inFeatures, (from + n) * l.inFeatures),
    layout: 'out_in',
    inFeatures: l.inFeatures,
    outFeatures: n,
    b: l.b?.slice(from, from + n),
  };
}

/** A norm's gain (+ bias when present); `plusOne` for Gemma's (1 + w) gains. */
export async function readNorm(src: WeightSource, name: string, d: number, opts: { plusOne?: boolean } = {}): Promise<Norm> {
  const w = await src.get(`${name}.weight`, [d]);
  if (opts.plusOne) for (let i = 0; i < d; i++) w[i] = Math.fround(1 + w[i]!);
  const b = src.has(`${name}.bias`) ? await src.get(`${name}.bias`, [d]) : undefined;
  return { w, b };
}

/** The output projection, or null when it is tied to the embedding (absent or equal). */
export async function readUnembed(src: WeightSource, name: string, embed: Float32Array, vocab: number, d: number, tied: boolean): Promise<Linear | null> {
  if (!src.has(`${name}.weight`)) {
    if (!tied) throw new ModelFormatError(`the checkpoint has no "${name}.weight" and tie_word_embeddings is false`, { tensor: `${name}.weight` });
    return null;
  }
  const l = await readLinear(src, name, vocab, d);
  if (!l.b && l.w.every((x, i) => x === embed[i])) return null;
  return l;
}
