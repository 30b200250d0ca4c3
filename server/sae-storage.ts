/**
 * The Node implementation of {@link SaeStorage}: SAE folders under
 * `DATA_DIR/saes/` (models/sae/files.ts), imports copied there from a folder
 * the server can read, files streamed for export.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { checkSaeFolder, copySaeFolder, importedSaeDir, isInside, saesRoot, SaeFormatError, trainingDir } from '../models/sae/files.ts';
import type { SaeStorage } from './storage.ts';

/** SAE folders under `dataDir`. */
export function createSaeStorage(dataDir: string): SaeStorage {
  const root = saesRoot(dataDir);
  return {
    async importFolder(src, id) {
      const problem = await checkSaeFolder(src);
      if (problem) return { problem };
      const dest = importedSaeDir(dataDir, id);
      try {
        const { cfg, raw } = await copySaeFolder(src, dest);
        return { path: dest, cfg, raw };
      } catch (err) {
        if (err instanceof SaeFormatError) return { problem: err.message };
        throw err;
      }
    },
    async remove(dir) {
      if (isInside(root, dir)) await fs.rm(dir, { recursive: true, force: true });
    },
    async removeTraining(id, keep) {
      const dir = trainingDir(dataDir, id);
      const kept = keep.filter((k) => isInside(dir, k)).map((k) => path.resolve(k));
      if (kept.length === 0) return fs.rm(dir, { recursive: true, force: true });
      // The SAEs stay; their checkpoints and the folders of hooks without an SAE go.
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (kept.includes(p)) await fs.rm(path.join(p, 'checkpoints'), { recursive: true, force: true });
        else await fs.rm(p, { recursive: true, force: true });
      }
    },
    async open(dir, name) {
      const file = path.join(dir, name);
      const s = await fs.stat(file).catch(() => undefined);
      if (!s?.isFile()) return null;
      return { body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>, bytes: s.size };
    },
  };
}
