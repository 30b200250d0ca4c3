/**
 * The Node implementation of {@link DatasetStorage}: uploads streamed into
 * `DATA_DIR/datasets/<id>/raw/` (models/datasets/upload.ts), folder removal,
 * and sample pages read with positioned reads and the dataset model's
 * tokenizer (a few tokenizers are kept loaded, since a page turn should not
 * parse tokenizer.json again).
 */
import { datasetDir, datasetRawDir, removeDatasetDir } from '../models/dataset-files.ts';
import { readSample } from '../models/datasets/sample.ts';
import { saveUpload } from '../models/datasets/upload.ts';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.ts';
import type { DatasetStorage } from './storage.ts';

/** Tokenizers kept loaded, by model folder. */
const TOKENIZER_CACHE = 4;

/** Dataset files under `dataDir`; uploads larger than `maxUploadBytes` are refused. */
export function createDatasetStorage(dataDir: string, opts: { maxUploadBytes: number }): DatasetStorage {
  const tokenizers = new Map<string, Promise<Tokenizer>>();
  const tokenizer = (dir: string): Promise<Tokenizer> => {
    let t = tokenizers.get(dir);
    if (t) {
      // Most recently used last.
      tokenizers.delete(dir);
      tokenizers.set(dir, t);
      return t;
    }
    t = loadTokenizer(dir);
    tokenizers.set(dir, t);
    t.catch(() => tokenizers.delete(dir));
    while (tokenizers.size > TOKENIZER_CACHE) tokenizers.delete(tokenizers.keys().next().value!);
    return t;
  };
  return {
    maxUploadBytes: opts.maxUploadBytes,
    dirOf: (id) => datasetDir(dataDir, id),
    async saveUpload(id, body, fileName, signal) {
      const saved = await saveUpload(body, datasetRawDir(dataDir, id), fileName, { maxBytes: opts.maxUploadBytes, ...(signal ? { signal } : {}) });
      return { name: saved.name, bytes: saved.bytes };
    },
    remove: (id) => removeDatasetDir(dataDir, id),
    async sample(dir, modelDir, page) {
      return readSample(dir, await tokenizer(modelDir), page);
    },
  };
}
