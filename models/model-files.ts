/**
 * The files a model is made of (config, tokenizer, safetensors weights), a
 * model folder's description, and copying a local folder into the data
 * directory. Node-only.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

/** The demo model shipped in the repository (`demo/models/tiny-gpt2-debian-6l`). */
export const DEMO_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'models', 'tiny-gpt2-debian-6l');
/** Its display name. */
export const DEMO_MODEL_NAME = 'tiny-gpt2-debian-6l (demo)';

const EXACT = new Set(['config.json', 'generation_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model']);

/**
 * True for the files Loupe needs from a model repository: config.json,
 * generation_config.json, tokenizer*.json, special_tokens_map.json,
 * vocab.json, merges.txt, tokenizer.model, the weights as transformers names
 * them (model.safetensors, model-00001-of-00002.safetensors and
 * model.safetensors.index.json), at the top level only. Not PyTorch (.bin),
 * TensorFlow (.h5), Flax (.msgpack) or ONNX files, nor other safetensors
 * (adapters, originals, reference outputs).
 */
export function isModelFile(file: string): boolean {
  if (file.includes('/') || file.includes('\\')) return false;
  if (EXACT.has(file)) return true;
  if (/^tokenizer[^/]*\.json$/.test(file)) return true;
  return /^model(-\d{5}-of-\d{5})?\.safetensors$/.test(file) || file === 'model.safetensors.index.json';
}

/** True when the selected files include weights Loupe can read. */
export function hasSafetensors(files: readonly string[]): boolean {
  return files.some((f) => f.endsWith('.safetensors'));
}

/** A model's config.json; throws with the file's path when it is missing or not a JSON object. */
export async function readModelConfig(dir: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${file} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A file of a model folder; size in bytes. */
export interface ModelFile {
  path: string;
  size: number;
}

/** The model files ({@link isModelFile}) of a folder, sorted by name, with their sizes. */
export async function listModelFiles(dir: string): Promise<ModelFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: ModelFile[] = [];
  for (const e of entries) {
    if (!e.isFile() || !isModelFile(e.name)) continue;
    files.push({ path: e.name, size: (await stat(path.join(dir, e.name))).size });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** A model folder: its config.json and its model files, with their total size (bytes). */
export async function describeModelFolder(dir: string): Promise<{ config: Record<string, unknown>; files: ModelFile[]; sizeBytes: number }> {
  const [config, files] = await Promise.all([readModelConfig(dir), listModelFiles(dir)]);
  return { config, files, sizeBytes: files.reduce((n, f) => n + f.size, 0) };
}

/**
 * Checks a folder a user asks to import: an absolute path to a directory with
 * a config.json. Returns what is wrong, or undefined when it is usable.
 */
export async function checkLocalModelFolder(dir: string): Promise<string | undefined> {
  if (!path.isAbsolute(dir)) return 'must be an absolute path';
  if (dir.split(/[\\/]/).includes('..')) return 'must not contain ".."';
  // One answer for a missing path, a file, a folder without config.json and an unreadable one:
  // the API must not tell a caller which paths exist on the server.
  const s = await stat(dir).catch(() => undefined);
  const config = s?.isDirectory() ? await stat(path.join(dir, 'config.json')).catch(() => undefined) : undefined;
  if (!config?.isFile()) return `${dir} is not a model folder the server can read (a folder holding config.json)`;
  return undefined;
}

/** The folder of model `id` under the data directory. */
export function modelDir(dataDir: string, id: string): string {
  return path.join(dataDir, 'models', id);
}

/** Removes a model's folder under the data directory (nothing when it is absent). */
export async function removeModelDir(dataDir: string, id: string): Promise<void> {
  await rm(modelDir(dataDir, id), { recursive: true, force: true });
}

/** Progress of {@link copyModelFiles}; bytes. */
export interface CopyProgress {
  file: string;
  fileBytes: number;
  fileTotal: number;
}

/**
 * Copies `files` from `src` to `dest`, each to `<name>.part` then renamed, so
 * a stopped copy never leaves a partial file under its real name. Files
 * already in `dest` with the source's size are skipped.
 */
export async function copyModelFiles(
  src: string,
  dest: string,
  files: readonly ModelFile[],
  opts: { signal?: AbortSignal; onProgress?: (p: CopyProgress) => void } = {},
): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const f of files) {
    opts.signal?.throwIfAborted();
    const target = path.join(dest, f.path);
    const existing = await stat(target).catch(() => undefined);
    if (existing?.size === f.size) {
      opts.onProgress?.({ file: f.path, fileBytes: f.size, fileTotal: f.size });
      continue;
    }
    let done = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        opts.onProgress?.({ file: f.path, fileBytes: done, fileTotal: f.size });
        cb(null, chunk);
      },
    });
    const part = `${target}.part`;
    await pipeline(createReadStream(path.join(src, f.path)), counter, createWriteStream(part), opts.signal ? { signal: opts.signal } : {});
    await rename(part, target);
    opts.onProgress?.({ file: f.path, fileBytes: f.size, fileTotal: f.size });
  }
}
