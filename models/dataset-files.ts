/**
 * Where a dataset's files live under the data directory, and the demo dataset
 * shipped in the repository. Node-only.
 *
 * `DATA_DIR/datasets/<id>/` holds the tokenized dataset (tokens.bin, docs.bin,
 * stats.json and meta.json, see datasets/format.ts) and, while an import
 * runs, `raw/` (the uploaded or downloaded source files) and `files/` (the
 * data files of an uploaded zip). Both are removed once the tokens are in.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMeta } from './datasets/format.ts';

/** The demo dataset shipped in the repository (`demo/datasets/debian-english-mix-heldout.jsonl`): the demo model's held-out text. */
export const DEMO_DATASET_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'datasets', 'debian-english-mix-heldout.jsonl');
/** Its display name. */
export const DEMO_DATASET_NAME = 'debian-english-mix-heldout (demo)';

/** The folder of dataset `id` under the data directory. */
export function datasetDir(dataDir: string, id: string): string {
  return path.join(dataDir, 'datasets', id);
}

/** Where the source files of an import are put (uploads, hub downloads). */
export function datasetRawDir(dataDir: string, id: string): string {
  return path.join(datasetDir(dataDir, id), 'raw');
}

/** Where the data files of an uploaded zip are extracted. */
export function datasetFilesDir(dataDir: string, id: string): string {
  return path.join(datasetDir(dataDir, id), 'files');
}

/** Removes a dataset's folder (nothing when it is absent). */
export async function removeDatasetDir(dataDir: string, id: string): Promise<void> {
  await rm(datasetDir(dataDir, id), { recursive: true, force: true });
}

/** True when `dir` holds a complete tokenized dataset (meta.json is written last). */
export async function isTokenized(dir: string): Promise<boolean> {
  try {
    const meta = await readMeta(dir);
    return meta.counts.documents > 0;
  } catch {
    return false;
  }
}

/** Bytes of every file under `dir`, recursively; 0 when it does not exist. */
export async function folderBytes(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}
