/**
 * The Node implementation of {@link FeatureStorage}: tokenizers of model
 * folders (loaded once, the last few kept), the reverse map from a token's
 * display string to its ids (built on the first token search of a model),
 * and the staging folders of discoveries under `DATA_DIR/discoveries/`.
 */
import { tokenKey } from '../models/features/label.ts';
import { discoveryDir, removeStaging } from '../models/features/staging.ts';
import { loadTokenizer, type Tokenizer } from '../models/tokenizer.ts';
import type { FeatureStorage } from './storage.ts';

/** Tokenizers kept loaded. */
const KEEP = 4;

/** Tokenizers and discovery folders under `dataDir`. */
export function createFeatureStorage(dataDir: string): FeatureStorage {
  const tokenizers = new Map<string, Promise<Tokenizer>>();
  const reverse = new Map<string, Promise<Map<string, number[]>>>();
  const words = new Map<string, Promise<Map<string, number[]>>>();

  /** A model's token ids by a key of their display string, built once (the whole vocabulary) and kept with its tokenizer. */
  const index = (cache: Map<string, Promise<Map<string, number[]>>>, dir: string, key: (shown: string) => string): Promise<Map<string, number[]>> => {
    let map = cache.get(dir);
    if (!map) {
      map = tokenizer(dir).then((tok) => {
        const m = new Map<string, number[]>();
        const shown = tok.tokenStrings(Array.from({ length: tok.vocabSize }, (_, i) => i));
        shown.forEach((s, id) => {
          const k = key(s);
          const ids = m.get(k);
          if (ids) ids.push(id);
          else m.set(k, [id]);
        });
        return m;
      });
      map.catch(() => cache.delete(dir));
      cache.set(dir, map);
    }
    return map;
  };

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
      words.delete(oldest);
    }
    return t;
  };

  return {
    tokenizer,
    async tokenIds(dir, text) {
      return (await index(reverse, dir, (s) => s)).get(text) ?? [];
    },
    async wordTokenIds(dir, word) {
      const key = tokenKey(word);
      // a phrase or plain whitespace is no token's word
      if (key.trim() === '' || /\s/.test(key)) return [];
      return (await index(words, dir, tokenKey)).get(key) ?? [];
    },
    removeDiscovery: (id) => removeStaging(discoveryDir(dataDir, id)),
  };
}
