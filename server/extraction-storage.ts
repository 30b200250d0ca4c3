/**
 * The Node implementation of {@link ExtractionStorage}: the activation store
 * of an extraction under `DATA_DIR/activations/<id>/`, summarised from its
 * manifest (one small JSON read; shards are never opened), and removed.
 */
import fs from 'node:fs/promises';
import { statsSummary, varianceProfile } from '../models/activations/plan.ts';
import { activationsDir } from '../models/activations/run.ts';
import { hookStats, readManifest } from '../models/activations/store.ts';
import { VARIANCE_BUCKETS } from '../models/contracts/extractions.ts';
import type { ExtractionStorage, ManifestSummary } from './storage.ts';

/** Activation stores under `dataDir`. */
export function createExtractionStorage(dataDir: string): ExtractionStorage {
  return {
    async summary(id): Promise<ManifestSummary | null> {
      const m = await readManifest(activationsDir(dataDir, id));
      if (!m) return null;
      const contextLength = Number(m.settings.contextLength) || 0;
      return {
        complete: m.complete,
        windowsDone: m.windowsDone,
        windowsTotal: m.windowsTotal,
        windowsPerShard: m.windowsPerShard,
        tokensDone: m.windowsDone * contextLength,
        hooks: Object.values(m.hooks).map((h) => {
          const s = hookStats(h);
          return {
            hook: h.hook,
            rowShape: h.rowShape,
            d: h.d,
            dtype: h.dtype,
            rows: h.rows,
            shards: h.shards.length,
            // activations and their int64 positions (safetensors headers aside)
            bytes: h.rows * (h.d * (h.dtype === 'f16' ? 2 : 4) + 8),
            stats: statsSummary(s),
            variance: varianceProfile(s.variance, VARIANCE_BUCKETS),
          };
        }),
      };
    },
    remove: (id) => fs.rm(activationsDir(dataDir, id), { recursive: true, force: true }),
  };
}
