import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { filesForSplit, listSplits } from './splits.ts';

// Layouts of real hub repositories (file lists abridged), and what Hugging Face datasets resolves them to.
describe('listSplits / filesForSplit: Hugging Face conventions', () => {
  it('sharded data/{split}-NNNNN-of-NNNNN files (the datasets push_to_hub layout), any split name', () => {
    const paths = [
      '.gitattributes',
      'README.md',
      'data/train-00000-of-00002.parquet',
      'data/train-00001-of-00002.parquet',
      'data/validation-00000-of-00001.parquet',
      'data/test-00000-of-00001.parquet',
      'data/extra_v2-00000-of-00001.parquet',
    ];
    expect([...listSplits(paths).keys()]).toEqual(['train', 'validation', 'test', 'extra_v2']);
    expect(filesForSplit(paths, 'train')).toEqual(['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
    expect(filesForSplit(paths, 'extra_v2')).toEqual(['data/extra_v2-00000-of-00001.parquet']);
  });

  it('the refs/convert/parquet layout: {config}/{split}/NNNN.parquet, also partial-{split}', () => {
    const paths = ['default/train/0000.parquet', 'default/train/0001.parquet', 'default/test/0000.parquet', 'default/partial-validation/0000.parquet'];
    expect(Object.fromEntries(listSplits(paths))).toEqual({
      train: ['default/train/0000.parquet', 'default/train/0001.parquet'],
      validation: ['default/partial-validation/0000.parquet'],
      test: ['default/test/0000.parquet'],
    });
    // Several configs: pick one, or get them all.
    const multi = ['en/train/0000.parquet', 'de/train/0000.parquet', 'de/test/0000.parquet'];
    expect(filesForSplit(multi, 'train')).toEqual(['de/train/0000.parquet', 'en/train/0000.parquet']);
    expect(filesForSplit(multi, 'train', { config: 'en' })).toEqual(['en/train/0000.parquet']);
    expect(() => filesForSplit(multi, 'test', { config: 'en' })).toThrow('no split "test" (splits: train)');
    // A custom split name in a folder.
    expect(filesForSplit(['default/my_split/0000.parquet', 'default/train/0000.parquet'], 'my_split')).toEqual(['default/my_split/0000.parquet']);
  });

  it('split keywords and their synonyms in file names, between separators', () => {
    const paths = ['train.jsonl', 'dev.jsonl', 'eval.jsonl', 'data/my_training-file.csv', 'notes.txt', 'trainer.txt', 'latest.jsonl'];
    expect(Object.fromEntries(listSplits(paths))).toEqual({
      train: ['data/my_training-file.csv', 'train.jsonl'],
      validation: ['dev.jsonl'],
      test: ['eval.jsonl'],
    });
    // wikitext's raw layout: keyword between dots, digits as separators.
    expect(Object.fromEntries(listSplits(['wikitext-2-raw/wiki.train.raw.txt', 'wikitext-2-raw/wiki.valid.raw.txt', 'wikitext-2-raw/wiki.test.raw.txt']))).toEqual({
      train: ['wikitext-2-raw/wiki.train.raw.txt'],
      validation: ['wikitext-2-raw/wiki.valid.raw.txt'],
      test: ['wikitext-2-raw/wiki.test.raw.txt'],
    });
    expect(filesForSplit(['train2.jsonl', 'test1.jsonl'], 'train')).toEqual(['train2.jsonl']);
  });

  it('folder names win over file names, as datasets tries them first', () => {
    const paths = ['train/a.jsonl', 'train/b.jsonl', 'test.jsonl'];
    expect(Object.fromEntries(listSplits(paths))).toEqual({ train: ['train/a.jsonl', 'train/b.jsonl'] });
    expect(filesForSplit(['en/validation/part-0.jsonl.gz', 'en/train/part-0.jsonl.gz'], 'validation')).toEqual(['en/validation/part-0.jsonl.gz']);
  });

  it('no keyword anywhere: every data file is train', () => {
    const paths = ['README.md', 'corpus.jsonl', 'more/stuff.parquet', 'config.json', 'dataset_info.json', 'script.py', 'image.png'];
    expect(Object.fromEntries(listSplits(paths))).toEqual({ train: ['corpus.jsonl', 'more/stuff.parquet'] });
    expect(() => filesForSplit(paths, 'test')).toThrow(DatasetError);
    expect(() => filesForSplit(paths, 'test')).toThrow('no split "test" (splits: train)');
  });

  it('hidden files and folders and __ folders never count; no data file at all is an error', () => {
    expect(listSplits(['.cache/train.jsonl', '__pycache__/train.jsonl', 'data/.train.jsonl']).size).toBe(0);
    const err = (() => {
      try {
        filesForSplit(['README.md', 'loader.py'], 'train');
      } catch (e) {
        return e as DatasetError;
      }
      return null;
    })();
    expect(err?.code).toBe('no_split');
    expect(err?.message).toMatch(/^no data files Loupe reads/);
  });
});
