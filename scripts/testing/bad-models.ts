/**
 * Broken copies of the tiny GPT-2 fixture checkpoint, for the tests of the
 * model checks (models/model-check.ts) through the core, the API and the
 * workers: a config out of bounds, and safetensors files truncated, with
 * overlapping offsets, a length that does not match shape × dtype, a header
 * length past the file, a tensor of the wrong shape or dtype, or missing.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The tiny GPT-2 checkpoint of ../shared/fixtures/architectures (2 layers, d 64, vocab 512; 550 KB). */
export const TINY_GPT2_DIR = path.resolve(import.meta.dirname, '../../models/architectures/fixtures/gpt2');

/** A tensor of the fixture, as its header lists it. */
export const TINY_TENSOR = 'transformer.h.0.attn.c_attn.weight';

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;

/** The header and data of a safetensors file. */
export function readRaw(file: string): { header: Header; data: Buffer } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header, data: buf.subarray(8 + n) };
}

/** Writes a safetensors file from a header and data; `headerLength` overrides the length field. */
export function writeRaw(file: string, header: Header | string, data: Buffer, headerLength?: bigint): void {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(headerLength ?? BigInt(json.length), 0);
  writeFileSync(file, Buffer.concat([head, json, data]));
}

/** Copies the fixture (config.json and model.safetensors) to `dir`; returns `dir`. */
export function copyTinyModel(dir: string, config: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(TINY_GPT2_DIR, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  const base = JSON.parse(readFileSync(path.join(TINY_GPT2_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...base, ...config }));
  return dir;
}

/** Ways to break the weights of a copy made by {@link copyTinyModel}, each with what its error must say. */
export const WEIGHT_CORRUPTIONS: Record<string, { apply(file: string): void; expect: RegExp }> = {
  truncated: {
    apply(file) {
      const buf = readFileSync(file);
      writeFileSync(file, buf.subarray(0, buf.length - 1000));
    },
    expect: /model\.safetensors: tensor "transformer\.wte\.weight": data_offsets end \d+ is past the end of the data/,
  },
  'overlapping offsets': {
    apply(file) {
      const { header, data } = readRaw(file);
      const t = header['transformer.h.0.attn.c_proj.bias'] as { data_offsets: [number, number] };
      t.data_offsets = [t.data_offsets[0] - 128, t.data_offsets[1] - 128];
      writeRaw(file, header, data);
    },
    expect: /model\.safetensors: tensor "transformer\.h\.0\.attn\.c_proj\.bias" overlaps the tensor before it/,
  },
  'length not shape × dtype': {
    apply(file) {
      const { header, data } = readRaw(file);
      (header[TINY_TENSOR] as { shape: number[] }).shape = [64, 193];
      writeRaw(file, header, data);
    },
    expect: /model\.safetensors: tensor "transformer\.h\.0\.attn\.c_attn\.weight": F32 \[64,193\] needs 49408 bytes but data_offsets span 49152/,
  },
  'header length past the file': {
    apply(file) {
      const { header, data } = readRaw(file);
      writeRaw(file, header, data, BigInt(readFileSync(file).length + 10));
    },
    expect: /model\.safetensors: header length \d+ is past the end of the \d+-byte file/,
  },
  'header length over the limit': {
    apply(file) {
      const { header, data } = readRaw(file);
      writeRaw(file, header, data, 1n << 40n);
    },
    expect: /model\.safetensors: header length 1099511627776 exceeds the \d+-byte limit/,
  },
  'header not JSON': {
    apply(file) {
      const { header, data } = readRaw(file);
      writeRaw(file, JSON.stringify(header).replace('{', '['), data);
    },
    expect: /model\.safetensors: header is not valid JSON/,
  },
  'wrong shape': {
    apply(file) {
      const { header, data } = readRaw(file);
      (header[TINY_TENSOR] as { shape: number[] }).shape = [192, 64];
      writeRaw(file, header, data);
    },
    expect: /model\.safetensors: tensor "transformer\.h\.0\.attn\.c_attn\.weight" has shape \[192, 64\], but config\.json implies \[64, 192\]/,
  },
  'integer weights': {
    apply(file) {
      const { header, data } = readRaw(file);
      (header['transformer.h.1.ln_1.weight'] as { dtype: string }).dtype = 'I32';
      writeRaw(file, header, data);
    },
    expect: /model\.safetensors: tensor "transformer\.h\.1\.ln_1\.weight" is I32; model weights must be F32, F16, BF16 or F64/,
  },
  'missing tensor': {
    apply(file) {
      const { header, data } = readRaw(file);
      header['transformer.h.1.mlp.c_fc.weight_renamed'] = header['transformer.h.1.mlp.c_fc.weight']!;
      delete header['transformer.h.1.mlp.c_fc.weight'];
      writeRaw(file, header, data);
    },
    expect: /the checkpoint has no parameter "transformer\.h\.1\.mlp\.c_fc\.weight"/,
  },
};
