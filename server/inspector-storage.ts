/**
 * The Node implementation of {@link InspectorStorage}: the files a
 * `features.analyze` job of kind `inspector` wrote under
 * `DATA_DIR/inspector/<sae>/` (models/features/inspector-bundle.ts),
 * streamed whole or read by byte range.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { inspectorManifestSchema } from '../models/contracts/inspector.ts';
import { inspectorDir, MANIFEST } from '../models/features/inspector-bundle.ts';
import type { InspectorStorage } from './storage.ts';

/** Inspector files under `dataDir`. */
export function createInspectorStorage(dataDir: string): InspectorStorage {
  // the SAE id is a UUID (validated by the routes) and the name one of INSPECTOR_FILES: no user path reaches the disk
  const file = (saeId: string, name: string) => path.join(inspectorDir(dataDir, saeId), name);
  return {
    async manifest(saeId) {
      const text = await fs.readFile(file(saeId, MANIFEST), 'utf8').catch(() => null);
      if (text === null) return null;
      const parsed = inspectorManifestSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : null;
    },
    async open(saeId, name) {
      const p = file(saeId, name);
      const s = await fs.stat(p).catch(() => undefined);
      if (!s?.isFile()) return null;
      return { body: Readable.toWeb(createReadStream(p)) as ReadableStream<Uint8Array>, bytes: s.size };
    },
    async read(saeId, name, offset, length) {
      const handle = await fs.open(file(saeId, name), 'r').catch(() => null);
      if (!handle) return null;
      try {
        const out = new Uint8Array(length);
        const { bytesRead } = await handle.read(out, 0, length, offset);
        return bytesRead === length ? out : null;
      } finally {
        await handle.close();
      }
    },
    async remove(saeId) {
      await fs.rm(inspectorDir(dataDir, saeId), { recursive: true, force: true });
    },
  };
}
