/**
 * Where SAEs live under DATA_DIR, and copying a SAELens folder:
 *
 *   DATA_DIR/saes/<trainingId>/<hook>/   one per hook point of a training:
 *                                        cfg.json, sae_weights.safetensors, checkpoints/
 *   DATA_DIR/saes/imported/<saeId>/      an imported SAELens folder (its two files)
 *
 * Hook folders are named by {@link hookDirName} (hook names are already safe).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { hookDirName } from '../activations/store.ts';
import { loadSae, SaeFormatError, type SaeConfig } from './saelens.ts';

/** The two files of an SAE folder in SAELens layout. */
export const SAELENS_FILES = ['cfg.json', 'sae_weights.safetensors'] as const;
export type SaeLensFile = (typeof SAELENS_FILES)[number];

/** The folder of every SAE under `dataDir`. */
export function saesRoot(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'saes');
}

/** The folder of training `id` (one subfolder per hook point). */
export function trainingDir(dataDir: string, id: string): string {
  return path.join(saesRoot(dataDir), id);
}

/** The SAE folder of training `id` at `hook`. */
export function trainingHookDir(dataDir: string, id: string, hook: string): string {
  return path.join(trainingDir(dataDir, id), hookDirName(hook));
}

/** The folder of imported SAE `id`. */
export function importedSaeDir(dataDir: string, id: string): string {
  return path.join(saesRoot(dataDir), 'imported', id);
}

/** True when `dir` lies inside `root` (both resolved). */
export function isInside(root: string, dir: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(dir));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Why a folder given by a user cannot be read as a SAELens folder; undefined when it can be tried. */
export async function checkSaeFolder(dir: string): Promise<string | undefined> {
  if (!path.isAbsolute(dir)) return 'must be an absolute path';
  if (dir.split(/[\\/]/).includes('..')) return 'must not contain ".."';
  // One answer whatever is missing: the API must not tell a caller which paths exist on the server.
  const s = await fs.stat(dir).catch(() => undefined);
  const files = s?.isDirectory() ? await Promise.all(SAELENS_FILES.map((f) => fs.stat(path.join(dir, f)).catch(() => undefined))) : [];
  if (files.length === 0 || !files.every((f) => f?.isFile())) return `${dir} is not a SAELens folder the server can read (a folder holding ${SAELENS_FILES.join(' and ')})`;
  return undefined;
}

/**
 * Checks a SAELens folder (cfg.json against the weights' shapes, see
 * {@link loadSae}) and copies its two files into `dest`, each through a
 * temporary name. Throws {@link SaeFormatError} for a folder that is not one.
 *
 * @returns the SAE's config and its cfg.json as it was
 */
export async function copySaeFolder(src: string, dest: string): Promise<{ cfg: SaeConfig; raw: Record<string, unknown> }> {
  const { cfg } = await loadSae(src);
  await fs.mkdir(dest, { recursive: true });
  try {
    for (const f of SAELENS_FILES) {
      const tmp = path.join(dest, `.${f}.${randomBytes(4).toString('hex')}.tmp`);
      await fs.copyFile(path.join(src, f), tmp);
      await fs.rename(tmp, path.join(dest, f));
    }
  } catch (err) {
    await fs.rm(dest, { recursive: true, force: true });
    throw err;
  }
  return { cfg, raw: cfg.extra };
}

export { SaeFormatError };
