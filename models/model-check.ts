/**
 * The check of a model folder before Loupe takes it: config.json within
 * bounds (models/architectures/limits.ts), weights of the size the config
 * implies, every safetensors header valid (models/safetensors.ts), and every
 * tensor the architecture reads present, floating point, and of the shape
 * the config implies. Only headers are read: a checkpoint of any size is
 * checked in milliseconds, with nothing allocated for its weights.
 *
 * Used at registration (`POST /api/models` for a local folder, the
 * `model.download` job) so a bad model ends failed with a message naming the
 * file and tensor, never completed; and its errors tell jobs what no retry
 * can fix ({@link isPermanentModelError}).
 */
import path from 'node:path';
import { familyOf, UnsupportedArchitectureError } from './architectures/index.ts';
import { impliedParameters, ModelFormatError } from './architectures/limits.ts';
import type { ArchSpec } from './architectures/spec.ts';
import { FLOAT_DTYPES, openWeights, type WeightSource } from './architectures/weights.ts';
import { readModelConfig } from './model-files.ts';
import { DTYPE_BYTES, SafetensorsError } from './safetensors.ts';

export { ModelFormatError } from './architectures/limits.ts';

/** Bytes of the narrowest floating dtype weights may be stored in (F16, BF16). */
const MIN_BYTES_PER_PARAMETER = 2;

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(bytes < GIB ? 3 : 1)} GiB`;

/** True for errors that say a model's files are wrong (config, weights, architecture): the same on every attempt. */
export function isPermanentModelError(err: unknown): boolean {
  return err instanceof ModelFormatError || err instanceof SafetensorsError || err instanceof UnsupportedArchitectureError;
}

/**
 * The checked spec of a config.json (bounds, then the family's spec, then
 * its consistency); throws {@link ModelFormatError} or
 * UnsupportedArchitectureError.
 */
export function checkedSpec(config: Record<string, unknown>): ArchSpec {
  return familyOf(config).spec(config);
}

/**
 * Checks that weights files of `safetensorsBytes` bytes in all can hold the
 * parameters the spec implies (at 2 bytes each, the narrowest float): a
 * config with inflated dimensions is refused before any download or load.
 * @throws ModelFormatError with both sizes in GiB
 */
export function checkImpliedSize(spec: ArchSpec, safetensorsBytes: number): void {
  const params = impliedParameters(spec);
  const need = params * MIN_BYTES_PER_PARAMETER;
  if (need > safetensorsBytes) {
    throw new ModelFormatError(
      `config.json implies at least ${params.toLocaleString('en-US')} parameters (${gib(need)} at 2 bytes each), but the safetensors files hold ${gib(safetensorsBytes)}: the config does not describe these weights`,
    );
  }
}

/**
 * A source that checks what the architecture reads (presence, float dtype,
 * the shape the config implies) and hands back empty arrays: the family's
 * loader runs over it as a dry run, reading no data.
 */
function shapeOnly(src: WeightSource): WeightSource {
  return {
    ...src,
    async get(name, shape) {
      const actual = src.shape(name); // throws naming the tensor when absent
      const file = src.fileOf(name);
      if (shape && (actual.length !== shape.length || actual.some((d, i) => d !== shape[i]))) {
        throw new ModelFormatError(`${file}: tensor "${name}" has shape [${actual.join(', ')}], but config.json implies [${shape.join(', ')}]`, { file, tensor: name });
      }
      const dtype = src.dtypeOf(name);
      if (!FLOAT_DTYPES.has(dtype)) throw new ModelFormatError(`${file}: tensor "${name}" is ${dtype}; model weights must be F32, F16, BF16 or F64`, { file, tensor: name });
      return new Float32Array(0);
    },
  };
}

/**
 * Checks the weights of a model folder against its spec: every safetensors
 * header (length within the file, valid JSON, supported dtypes, offsets in
 * the data section, in order, not overlapping, each length = product(shape)
 * × dtype size), and every tensor the family reads present with the shape
 * the config implies. Reads headers only.
 * @throws ModelFormatError or SafetensorsError naming the file and tensor
 */
export async function checkModelWeights(dir: string, spec: ArchSpec, config: Record<string, unknown>): Promise<void> {
  const src = await openModelWeights(dir);
  try {
    await checkOpenWeights(src, spec, config);
  } finally {
    await src.close();
  }
}

/**
 * Opens the weights of a model folder (models/architectures/weights.ts),
 * every safetensors header validated; a malformed file, a missing one or a
 * bad shard index is a {@link ModelFormatError} naming the file (and the
 * tensor when one is at fault). I/O failures pass through as they are.
 */
export async function openModelWeights(dir: string): Promise<WeightSource> {
  try {
    return await openWeights(dir);
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    if (err instanceof SafetensorsError) {
      const tensor = /tensor "([^"]+)"/.exec(err.message)?.[1];
      throw new ModelFormatError(err.message, { file: err.message.slice(0, err.message.indexOf(': ')), ...(tensor ? { tensor } : {}) }, { cause: err });
    }
    // an I/O failure (EACCES, EIO, …) may pass on another attempt; a missing file or a bad index is the folder's fault
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && code !== 'ENOENT') throw err;
    throw new ModelFormatError(err instanceof Error ? err.message : String(err), {}, { cause: err });
  }
}

/** {@link checkModelWeights} over weights already open (their headers were validated when they were opened). */
export async function checkOpenWeights(src: WeightSource, spec: ArchSpec, config: Record<string, unknown>): Promise<void> {
  const bytes = src.names().reduce((n, name) => n + src.shape(name).reduce((a, b) => a * b, 1) * DTYPE_BYTES[src.dtypeOf(name)], 0);
  // a refusal with both sizes before the tensor-by-tensor one
  checkImpliedSize(spec, bytes);
  await familyOf(config).load(shapeOnly(src), spec, config);
}

/**
 * Checks a model folder as Loupe would take it: config.json readable and
 * within bounds, a supported architecture, and weights that match it
 * ({@link checkModelWeights}). Returns the config, its spec and model_type.
 * @throws ModelFormatError, SafetensorsError or UnsupportedArchitectureError
 */
export async function checkModelFolder(dir: string): Promise<{ config: Record<string, unknown>; spec: ArchSpec }> {
  let config: Record<string, unknown>;
  try {
    config = await readModelConfig(dir);
  } catch (err) {
    throw new ModelFormatError(err instanceof Error ? err.message : String(err), { file: path.join(dir, 'config.json') }, { cause: err });
  }
  const spec = checkedSpec(config);
  await checkModelWeights(dir, spec, config);
  return { config, spec };
}
