/**
 * The Node implementation of {@link FeatureStorage}: tokenizers of model
 * folders (loaded once, the last few kept), the reverse map from a token's
 * display string to its ids (built on the first token search of a model),
 * and the staging folders of discoveries under `DATA_DIR/discoveries/`.
 */
import { discoveryDir, removeStaging } from '../models/features/staging.ts';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.ts';
import type { FeatureStorage } from './storage.ts';

/** Tokenizers kept loaded. */
const KEEP = 4;

/** Tokenizers and discovery folders under `dataDir`. */
export function createFeatureStorage(dataDir: string): FeatureStorage {
  const tokenizers = new Map<string, Promise<Tokenizer>>();
  const reverse = new Map<string, Promise<Map<string, number[]>>>();

  const tokenizer = (dir: string): Promise<Tokenizer> => {
    let t = tokenizers.get(dir);
    if (t) {
      tokenizers.delete(dir);
    } else {
      t = loadTokenizer(dir);
      t.catch(() => tokenizers.delete(dir));
    }
    tokenizers.set(dir, t);
    while (tokenizers.size > KEEP) {
      const oldest = tokenizers.keys().next().value!;
      tokenizers.delete(oldest);
      reverse.delete(oldest);
    }
    return t;
  };

  return {
    tokenizer,
    async tokenIds(dir, text) {
      let map = reverse.get(dir);
      if (!map) {
        map = tokenizer(dir).then((tok) => {
          const m = new Map<string, number[]>();
          const shown = tok.tokenStrings(Array.from({ length: tok.vocabSize }, (_, i) => i));
          shown.forEach((s, id) => {
            const ids = m.get(s);
            if (ids) ids.push(id);
            else m.set(s, [id]);
          });
          return m;
        });
        map.catch(() => reverse.delete(dir));
        reverse.set(dir, map);
      }
      return (await map).get(text) ?? [];
    },
    removeDiscovery: (id) => removeStaging(discoveryDir(dataDir, id)),
  };
}
