/**
 * Registers the demo model shipped in the repository (demo/models/) as the
 * built-in default model: status completed, files used in place. Run by every
 * worker at start; one upsert on a fixed id, so several workers starting at
 * once leave one row.
 */
import { modelTypeOf } from '../models/architectures/index.ts';
import { DEMO_MODEL_DIR, DEMO_MODEL_NAME, describeModelFolder } from '../models/model-files.ts';
import type { Logger } from '../models/log.ts';
import type { Db } from '../db/client.ts';
import { ensureDemoModel } from '../db/queries/models.ts';

/** Upserts the demo model's row; a missing or broken demo folder is logged, not fatal. */
export async function registerDemoModel(db: Db, log: Logger, dir = DEMO_MODEL_DIR): Promise<boolean> {
  let folder: Awaited<ReturnType<typeof describeModelFolder>>;
  let architecture: string;
  try {
    folder = await describeModelFolder(dir);
    architecture = modelTypeOf(folder.config);
  } catch (err) {
    log.warn('demo model not registered', { dir, error: err instanceof Error ? err.message : String(err) });
    return false;
  }
  await ensureDemoModel(db, { name: DEMO_MODEL_NAME, path: dir, architecture, config: folder.config, sizeBytes: folder.sizeBytes });
  return true;
}
