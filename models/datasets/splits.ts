/**
 * Which files of a hub dataset repository make up a split, by the conventions
 * Hugging Face `datasets` uses when a repository has no explicit `configs` in
 * its README (datasets' `data_files.py`), tried in this order, the first that
 * finds anything deciding:
 *
 * 1. sharded names `data/{split}-00000-of-00002*.*` — any split name;
 * 2. the split's keyword as a folder name: `train/…`, `en/train/…`,
 *    `default/train/0000.parquet` (the `refs/convert/parquet` layout),
 *    `partial-train/…`, `train_v1/…`;
 * 3. the split's keyword in the file name, between separators (`-._ ` or a
 *    digit): `train.jsonl`, `data/my_train_file.csv`, `wiki.test.raw.txt`;
 * 4. otherwise every data file is the `train` split.
 *
 * Keywords: train = train, training; validation = validation, valid, dev, val;
 * test = test, testing, eval, evaluation; any other split name is its own
 * keyword. Only files Loupe reads count (see {@link formatOf}); hidden files
 * and folders (`.x`), `__x` folders and the metadata files datasets ignores
 * (README.md, config.json, dataset_info.json, …) never do.
 */
import { DatasetError } from './errors.ts';
import { formatOf } from './sources.ts';

const SPLIT_KEYWORDS: Record<string, readonly string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'dev', 'val'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};
const STANDARD_SPLITS = ['train', 'validation', 'test'] as const;
const FILES_TO_IGNORE = new Set(['README.md', 'config.json', 'dataset_info.json', 'dataset_infos.json', 'dummy_data.zip', 'dataset_dict.json']);

/** Separators around a keyword, as datasets' NON_WORDS_CHARS. */
const SEP = '[-._ 0-9]';
const SHARDED = /^data\/([^/]+?)-[0-9]{5}-of-[0-9]{5}[^/]*\.[^/]*$/;
const SPLIT_NAME = /^\w+(\.\w+)*$/;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function keywordsOf(split: string): readonly string[] {
  return SPLIT_KEYWORDS[split] ?? [split];
}

/** datasets' KEYWORDS_IN_DIR_NAME_BASE_PATTERNS: `**‍/{kw}/**`, `**‍/*[sep]{kw}/**`, `**‍/{kw}[sep]*‍/**`, `**‍/*[sep]{kw}[sep]*‍/**`. */
function dirPattern(split: string): RegExp {
  const kw = `(?:${keywordsOf(split).map(escape).join('|')})`;
  return new RegExp(`^(?:[^/]*/)*(?:[^/]*${SEP})?${kw}(?:${SEP}[^/]*)?/.+$`);
}

/** datasets' KEYWORDS_IN_FILENAME_BASE_PATTERNS: `**‍/{kw}[sep]*`, `**‍/*[sep]{kw}[sep]*`. */
function filePattern(split: string): RegExp {
  const kw = `(?:${keywordsOf(split).map(escape).join('|')})`;
  return new RegExp(`^(?:[^/]*/)*(?:[^/]*${SEP})?${kw}${SEP}[^/]*$`);
}

/** Whether a repository path is a data file datasets would consider. */
function isDataFile(p: string): boolean {
  const segs = p.split('/');
  const base = segs[segs.length - 1]!;
  if (FILES_TO_IGNORE.has(base)) return false;
  if (segs.some((s) => s.startsWith('.'))) return false;
  if (segs.slice(0, -1).some((s) => s.startsWith('__'))) return false;
  return formatOf(base) !== null;
}

/** Options of {@link listSplits} and {@link filesForSplit}. */
export interface SplitOptions {
  /** only files under this top folder (a config of the `refs/convert/parquet` layout, or a language folder) */
  config?: string;
}

function candidates(paths: readonly string[], opts: SplitOptions): string[] {
  const prefix = opts.config ? `${opts.config.replace(/\/+$/, '')}/` : '';
  return paths.filter((p) => (prefix === '' || p.startsWith(prefix)) && isDataFile(p)).sort();
}

/**
 * The splits of a repository and their files, in datasets' order (train,
 * validation, test, then others by name), decided by the first convention
 * that matches anything (see the module comment). Empty when the repository
 * has no data file Loupe reads.
 *
 * @param paths repository file paths, `/`-separated (e.g. from listRepoFiles)
 * @example listSplits(['data/train-00000-of-00001.parquet', 'data/test-00000-of-00001.parquet'])
 *   // Map { 'train' => ['data/train-00000-of-00001.parquet'], 'test' => ['data/test-00000-of-00001.parquet'] }
 */
export function listSplits(paths: readonly string[], opts: SplitOptions = {}): Map<string, string[]> {
  const files = candidates(paths, opts);
  const order = (names: Iterable<string>): string[] => {
    const set = new Set(names);
    return [...STANDARD_SPLITS.filter((s) => set.has(s)), ...[...set].filter((s) => !(STANDARD_SPLITS as readonly string[]).includes(s)).sort()];
  };

  const sharded = new Map<string, string[]>();
  for (const f of files) {
    const m = SHARDED.exec(f);
    if (m && SPLIT_NAME.test(m[1]!)) sharded.set(m[1]!, [...(sharded.get(m[1]!) ?? []), f]);
  }
  if (sharded.size > 0) return new Map(order(sharded.keys()).map((s) => [s, sharded.get(s)!]));

  for (const pattern of [dirPattern, filePattern]) {
    const found = new Map<string, string[]>();
    for (const split of STANDARD_SPLITS) {
      const re = pattern(split);
      const matched = files.filter((f) => re.test(f));
      if (matched.length > 0) found.set(split, matched);
    }
    if (found.size > 0) return found;
  }
  return files.length > 0 ? new Map([['train', files]]) : new Map();
}

/**
 * The files of one split of a repository, sorted. Standard splits follow
 * {@link listSplits}; another split name is looked for as a sharded name, a
 * folder name, then a file-name keyword (e.g. `default/my_split/0000.parquet`).
 *
 * @throws DatasetError `no_split` naming the splits there are
 * @example filesForSplit(['default/train/0000.parquet', 'default/test/0000.parquet'], 'train') // ['default/train/0000.parquet']
 */
export function filesForSplit(paths: readonly string[], split: string, opts: SplitOptions = {}): string[] {
  const splits = listSplits(paths, opts);
  let files = splits.get(split);
  if (!files && !(STANDARD_SPLITS as readonly string[]).includes(split)) {
    const all = candidates(paths, opts);
    for (const pattern of [dirPattern, filePattern]) {
      const re = pattern(split);
      const matched = all.filter((f) => re.test(f));
      if (matched.length > 0) {
        files = matched;
        break;
      }
    }
  }
  if (!files || files.length === 0) {
    const there = [...splits.keys()];
    throw new DatasetError(
      'no_split',
      there.length === 0
        ? `no data files Loupe reads (.parquet, .jsonl, .json, .csv, .tsv, .txt)${opts.config ? ` under "${opts.config}/"` : ''}`
        : `no split "${split}" (splits: ${there.join(', ')})`,
    );
  }
  return files;
}
