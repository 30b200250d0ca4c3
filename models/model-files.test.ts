import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLocalModelFolder, copyModelFiles, DEMO_MODEL_DIR, describeModelFolder, isModelFile, listModelFiles } from './model-files.ts';

describe('model files', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-model-files-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('keeps config, tokenizer and safetensors files at the top level, nothing else', () => {
    const keep = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'model.safetensors', 'model-00001-of-00002.safetensors', 'model.safetensors.index.json'];
    const drop = ['pytorch_model.bin', 'tf_model.h5', 'flax_model.msgpack', 'onnx/model.onnx', 'model.onnx', 'README.md', '.gitattributes', 'original/config.json', 'training_log.json', 'reference.json', 'reference.safetensors', 'adapter_model.safetensors', 'consolidated.safetensors'];
    expect(keep.filter(isModelFile)).toEqual(keep);
    expect(drop.filter(isModelFile)).toEqual([]);
  });

  it('describes the demo model folder: its config and the bytes of its model files', async () => {
    const d = await describeModelFolder(DEMO_MODEL_DIR);
    expect(d.config.model_type).toBe('gpt2');
    const names = d.files.map((f) => f.path);
    expect(names).toContain('model.safetensors');
    expect(names).toContain('tokenizer.json');
    expect(names).not.toContain('README.md');
    expect(names).not.toContain('reference.safetensors');
    const expected = names.reduce((n, f) => n + statSync(path.join(DEMO_MODEL_DIR, f)).size, 0);
    expect(d.sizeBytes).toBe(expected);
  });

  it('says what is wrong with a folder to import', async () => {
    expect(await checkLocalModelFolder('relative/path')).toMatch(/absolute/);
    // A missing path, a file and a folder without config.json get the same answer: it does not tell which paths exist.
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    const answers = [path.join(tmp, 'missing'), path.join(DEMO_MODEL_DIR, 'config.json'), empty];
    for (const dir of answers) expect(await checkLocalModelFolder(dir)).toBe(`${dir} is not a model folder the server can read (a folder holding config.json)`);
    expect(await checkLocalModelFolder(DEMO_MODEL_DIR)).toBeUndefined();
  });

  it('copies files through .part names with progress, skips complete ones, stops when aborted', async () => {
    const src = path.join(tmp, 'src');
    mkdirSync(src);
    writeFileSync(path.join(src, 'config.json'), '{"model_type":"gpt2"}');
    writeFileSync(path.join(src, 'model.safetensors'), Buffer.alloc(3 << 20, 7));
    const files = await listModelFiles(src);
    const dest = path.join(tmp, 'dest');
    const seen: number[] = [];
    await copyModelFiles(src, dest, files, { onProgress: (p) => p.file === 'model.safetensors' && seen.push(p.fileBytes) });
    expect(readFileSync(path.join(dest, 'model.safetensors')).equals(readFileSync(path.join(src, 'model.safetensors')))).toBe(true);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.at(-1)).toBe(3 << 20);
    expect(readdirSync(dest).sort()).toEqual(['config.json', 'model.safetensors']);

    const again: string[] = [];
    await copyModelFiles(src, dest, files, { onProgress: (p) => again.push(`${p.file}:${p.fileBytes}`) });
    expect(again).toEqual([`config.json:${files[0]!.size}`, `model.safetensors:${3 << 20}`]);

    const other = path.join(tmp, 'aborted');
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(copyModelFiles(src, other, files, { signal: ac.signal })).rejects.toThrow();
    expect(existsSync(path.join(other, 'model.safetensors'))).toBe(false);
  });
});
