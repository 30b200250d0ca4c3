/**
 * The files the browser's inspector of an SAE downloads (models/contracts/inspector.ts
 * lists them), built once under `DATA_DIR/inspector/<sae>/` by a
 * `features.analyze` job of kind `inspector`:
 *
 * - the same ONNX graphs the server runs: the model's decoder as
 *   models/model.ts builds it (fp32), cut at the SAE's hook, and the SAE's
 *   encoder (models/sae/encode.ts), so the browser computes what
 *   `POST /api/saes/{id}/encode` computes;
 * - the model's tokenizer files, and the BOS the encode puts first;
 * - the decoder rows as raw float32 and half bytes, for the WebGPU searches;
 * - the unembedding as [vocab, d_model] float32, of which the server sends one
 *   token's column at a time, and the final norm's gain in the manifest.
 *
 * A model whose graph up to the hook and encoder would pass `maxBytes` gets
 * no graphs (the manifest says why, from the parameter counts, before any
 * weight is read); its decoder searches still work. Every file is written
 * under a temporary name and renamed, the manifest last; a manifest whose
 * sources (the SAE's and model's files, by size and time) have not changed
 * is reused as it is.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { INSPECTOR_BUNDLE_VERSION, type InspectorFile, type InspectorManifest } from '../contracts/inspector.ts';
import { inspectModel } from '../inspect.ts';
import { buildModelGraph } from '../model.ts';
import { float32ToF16, transpose } from '../quantize.ts';
import { encoderGraph } from '../sae/encode.ts';
import { loadSae } from '../sae/saelens.ts';
import { loadTokenizer } from '../tokenizer.ts';
import { readUnembedding } from './lens.ts';

/** The folder of SAE `saeId`'s inspector files. */
export function inspectorDir(dataDir: string, saeId: string): string {
  return path.join(dataDir, 'inspector', saeId);
}

/** The manifest's file name in that folder. */
export const MANIFEST = 'manifest.json';

export interface BundleOptions {
  dataDir: string;
  saeId: string;
  modelId: string;
  /** the SAE's SAELens folder and its model's folder */
  saeDir: string;
  modelDir: string;
  hookPoint: string;
  /** largest graph + encoder sent to a browser, bytes (POLICY.INSPECTOR_MAX_BYTES) */
  maxBytes: number;
  signal?: AbortSignal;
}

/** What the bundle is made from, by size and modification time: a change rebuilds it. */
async function fingerprint(o: BundleOptions): Promise<string> {
  const parts: string[] = [`v${INSPECTOR_BUNDLE_VERSION}`, o.hookPoint, String(o.maxBytes)];
  for (const dir of [o.saeDir, o.modelDir]) {
    const names = (await fs.readdir(dir)).filter((n) => /\.(json|safetensors)$/.test(n)).sort();
    for (const n of names) {
      const s = await fs.stat(path.join(dir, n));
      parts.push(`${dir}/${n}:${s.size}:${Math.round(s.mtimeMs)}`);
    }
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/** Writes `chunks` to `file` under a temporary name, renames it, and returns its size and SHA-256. */
async function writeFile(file: string, chunks: readonly Uint8Array[]): Promise<{ bytes: number; sha256: string }> {
  const tmp = `${file}.tmp-${process.pid}`;
  const hash = createHash('sha256');
  const handle = await fs.open(tmp, 'w');
  let bytes = 0;
  try {
    for (const c of chunks) {
      await handle.write(c);
      hash.update(c);
      bytes += c.byteLength;
    }
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  return { bytes, sha256: hash.digest('hex') };
}

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The saved manifest of the folder, when its fingerprint is `fp`. */
async function reusable(dir: string, fp: string): Promise<InspectorManifest | null> {
  try {
    const saved = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), 'utf8')) as InspectorManifest & { fingerprint?: string };
    if (saved.fingerprint !== fp) return null;
    const { fingerprint: _, ...manifest } = saved;
    return manifest;
  } catch {
    return null;
  }
}

/**
 * fp32 bytes of the model's weights up to `hook` (embeddings and the blocks
 * it needs) plus the encoder's, from the safetensors headers: what the
 * browser would download, known before any weight is read.
 */
async function estimateBytes(modelDir: string, hook: string, dIn: number, dSae: number): Promise<{ bytes: number; contextLength: number; vocabSize: number }> {
  const arch = await inspectModel(modelDir);
  const point = arch.hookPoints.find((h) => h.name === hook);
  if (!point) throw new Error(`the model has no hook point ${hook}`);
  const last = point.layer ?? (hook.startsWith('ln_final') ? arch.layers - 1 : -1);
  let params = arch.parameters.embedding;
  for (let l = 0; l <= last; l++) params += arch.parameters.perLayer[l] ?? 0;
  return { bytes: 4 * (params + 2 * dIn * dSae + dSae + dIn), contextLength: arch.contextLength, vocabSize: arch.vocabSize };
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;

/**
 * Builds (or reuses) the inspector files of an SAE and returns their
 * manifest. Reads the SAE, the model's weights (when its graph fits
 * `maxBytes`) and its head.
 */
export async function buildInspectorBundle(o: BundleOptions): Promise<InspectorManifest> {
  const dir = inspectorDir(o.dataDir, o.saeId);
  const fp = await fingerprint(o);
  const saved = await reusable(dir, fp);
  if (saved) return saved;
  await fs.mkdir(dir, { recursive: true });
  const files: Partial<Record<InspectorFile, { bytes: number; sha256: string }>> = {};
  const put = async (name: InspectorFile, chunks: readonly Uint8Array[]) => {
    o.signal?.throwIfAborted();
    files[name] = await writeFile(path.join(dir, name), chunks);
  };

  const { cfg, weights } = await loadSae(o.saeDir);
  const tok = await loadTokenizer(o.modelDir);
  const est = await estimateBytes(o.modelDir, o.hookPoint, cfg.dIn, cfg.dSae);

  // the decoder rows, W_dec [d_sae, d_in], for the searches
  await put('decoder.f32', [bytesOf(weights.W_dec)]);
  await put('decoder.f16', [bytesOf(float32ToF16(weights.W_dec))]);

  // the unembedding as rows of tokens, [vocab, d_model], and the final norm the lens folds in
  const u = await readUnembedding(o.modelDir);
  const rows = u.unembed.layout === 'out_in' ? u.unembed.w : transpose(u.unembed.w, u.dModel, u.vocab);
  await put('unembedding.f32', [bytesOf(rows)]);

  for (const name of ['tokenizer.json', 'tokenizer_config.json'] as const) {
    const data = await fs.readFile(path.join(o.modelDir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && name !== 'tokenizer.json') return null;
      throw err;
    });
    if (data) await put(name, [data]);
  }

  // the graphs, when a browser can hold them
  let bytes = est.bytes;
  let reason: string | null = null;
  if (est.bytes > o.maxBytes) {
    reason = `the model up to ${o.hookPoint} and the SAE's encoder take ${mib(est.bytes)} as fp32, more than the ${mib(o.maxBytes)} a browser is sent (POLICY.INSPECTOR_MAX_BYTES)`;
  } else {
    const { graph } = await buildModelGraph(o.modelDir, { dtype: 'fp32' });
    o.signal?.throwIfAborted();
    const model = graph.toModel({ outputs: [{ value: o.hookPoint }], docString: `${o.hookPoint} of ${o.modelId}, for the inspector of SAE ${o.saeId}` });
    const encoder = encoderGraph(cfg, weights).graph.toModel();
    bytes = model.byteLength + encoder.byteLength;
    if (bytes > o.maxBytes) {
      reason = `the model up to ${o.hookPoint} and the SAE's encoder take ${mib(bytes)}, more than the ${mib(o.maxBytes)} a browser is sent (POLICY.INSPECTOR_MAX_BYTES)`;
    } else {
      await put('model.onnx', [model]);
      await put('encoder.onnx', [encoder]);
    }
  }
  if (reason) await Promise.all(['model.onnx', 'encoder.onnx'].map((n) => fs.rm(path.join(dir, n), { force: true })));

  const manifest: InspectorManifest = {
    version: INSPECTOR_BUNDLE_VERSION,
    saeId: o.saeId,
    modelId: o.modelId,
    hookPoint: o.hookPoint,
    architecture: cfg.architecture,
    dIn: cfg.dIn,
    dSae: cfg.dSae,
    k: cfg.k ?? null,
    // POST /api/saes/{id}/encode's rule (server/artifacts/encode.ts): the BOS first when the SAE was recorded so
    bos: cfg.prependBos && tok.bosId !== null ? tok.bosId : null,
    contextLength: est.contextLength,
    vocabSize: est.vocabSize,
    lens: { norm: u.gain ? u.norm : null, gain: u.gain ? Array.from(u.gain) : null },
    browser: { runnable: reason === null, reason, bytes, maxBytes: o.maxBytes },
    files,
    builtAt: Date.now(),
  };
  await writeFile(path.join(dir, MANIFEST), [new TextEncoder().encode(JSON.stringify({ ...manifest, fingerprint: fp }))]);
  return manifest;
}
