/**
 * The parameters of a checkpoint by Hugging Face name, from one
 * `model.safetensors` or shards listed in `model.safetensors.index.json`,
 * read one tensor at a time and decoded to float32.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openSafetensors, toFloat32, type SafetensorsFile, type TensorInfo } from '../safetensors.ts';

export interface WeightSource {
  has(name: string): boolean;
  shape(name: string): readonly number[];
  /** Reads a tensor as float32, checking its shape when `shape` is given. */
  get(name: string, shape?: readonly number[]): Promise<Float32Array>;
  /** The first name present among candidates (checkpoints differ in prefixes). */
  pick(...names: string[]): string;
  names(): string[];
  close(): Promise<void>;
}

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
    if (!e) throw new Error(`${dir}: the checkpoint has no parameter "${name}"`);
    return e;
  };
  return {
    has: (name) => where.has(name),
    shape: (name) => entry(name).info.shape,
    async get(name, shape) {
      const { file, info } = entry(name);
      if (shape && (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))) {
        throw new Error(`${dir}: parameter "${name}" has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
      }
      return toFloat32(info.dtype, await file.read(name));
    },
    pick(...names) {
      const found = names.find((n) => where.has(n));
      if (!found) throw new Error(`${dir}: the checkpoint has none of the parameters ${names.map((n) => `"${n}"`).join(', ')}`);
      return found;
    },
    names: () => [...where.keys()],
    close: async () => {
      await Promise.all(opened.map((f) => f.close()));
    },
  };
}
