/**
 * The browser's inspector of an SAE (`/api/saes/{id}/inspector`): what the
 * page downloads to run the SAE's model up to its hook and the SAE's encoder
 * in the browser (onnxruntime-web), tokenize there (@huggingface/tokenizers),
 * and search the decoder with WebGPU. A `features.analyze` job of kind
 * `inspector` builds the files once under DATA_DIR/inspector/<sae>/
 * (models/features/inspector-bundle.ts); the manifest lists them with their
 * SHA-256, which the file route sends as its ETag and the page keys its
 * Cache Storage by.
 */
import { z } from 'zod';
import { SAE_ARCHITECTURE_NAMES } from './trainings.ts';

/** Bumped when what a bundle holds changes: the cache key of its job names it, so old bundles are rebuilt. */
export const INSPECTOR_BUNDLE_VERSION = 1;

/**
 * The files of a bundle:
 * - `model.onnx`: the model's decoder graph (fp32, as models/model.ts builds it) cut at the SAE's hook:
 *   input `input_ids` int64 [1, T], output the hook float32 [1, T, d_in];
 * - `encoder.onnx`: the SAE's encoder graph (models/sae/encode.ts): input `x` [rows, d_in];
 *   outputs `values`, `indices` [rows, k] (TopK) or `acts` [rows, d_sae];
 * - `tokenizer.json`, `tokenizer_config.json` (when the model has one): the model's own files;
 * - `decoder.f32`, `decoder.f16`: W_dec [d_sae, d_in] row-major, little-endian float32 or IEEE half;
 * - `unembedding.f32`: W_U as [vocab, d_model] (a token's column is a row), float32; read a row at a
 *   time through `GET /api/saes/{id}/inspector/unembedding/{token}`, never whole.
 */
export const INSPECTOR_FILES = ['model.onnx', 'encoder.onnx', 'tokenizer.json', 'tokenizer_config.json', 'decoder.f32', 'decoder.f16', 'unembedding.f32'] as const;
export type InspectorFile = (typeof INSPECTOR_FILES)[number];

/** A built file: its size and content checksum. */
export const inspectorFileSchema = z.object({ bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * The manifest of an SAE's inspector bundle.
 * - `bos`: the token id run before the text's tokens (not shown), as the SAE's activations were
 *   recorded (its cfg.json `prepend_bos` and the tokenizer's BOS), unless the tokens already start
 *   with it: `POST /api/saes/{id}/encode`'s rule. Null: none.
 * - `lens`: the final norm the logit lens folds into a direction (models/features/lens.ts): its kind
 *   (`layer` centres the direction first; null: the model has no final norm) and gain γ [d_model].
 * - `browser`: whether the model and encoder graphs were built for the browser; when not (`reason`),
 *   their files are absent and only the decoder searches work. `bytes` is their size (or estimate),
 *   `maxBytes` the limit.
 */
export const inspectorManifestSchema = z.object({
  version: z.number().int(),
  saeId: z.string(),
  modelId: z.string(),
  hookPoint: z.string(),
  architecture: z.enum(SAE_ARCHITECTURE_NAMES),
  dIn: z.number().int().min(1),
  dSae: z.number().int().min(1),
  k: z.number().int().nullable(),
  bos: z.number().int().min(0).nullable(),
  contextLength: z.number().int().min(1),
  vocabSize: z.number().int().min(1),
  lens: z.object({ norm: z.enum(['layer', 'rms']).nullable(), gain: z.array(z.number()).nullable() }),
  browser: z.object({ runnable: z.boolean(), reason: z.string().nullable(), bytes: z.number().int().min(0), maxBytes: z.number().int().min(0) }),
  files: z.partialRecord(z.enum(INSPECTOR_FILES), inspectorFileSchema),
  builtAt: z.number(),
});
export type InspectorManifest = z.infer<typeof inspectorManifestSchema>;

/** `GET /api/saes/{id}/inspector`: the manifest, and whether it was built for this request. */
export const inspectorResponseSchema = inspectorManifestSchema.extend({ cached: z.boolean(), computedAt: z.number() });
export type InspectorResponse = z.infer<typeof inspectorResponseSchema>;

/** `GET /api/saes/{id}/inspector/files/{name}`. */
export const inspectorFileParamSchema = z.object({ id: z.string().uuid(), name: z.enum(INSPECTOR_FILES) });

/** `GET /api/saes/{id}/inspector/unembedding/{token}`. */
export const inspectorTokenParamSchema = z.object({ id: z.string().uuid(), token: z.coerce.number().int().min(0).max(2 ** 31 - 1) });

/**
 * A token's column of the unembedding, W_U[:, token] [d_model] (no bias): with the manifest's `lens`,
 * what the "features by token effect" search dots with every decoder row.
 */
export const inspectorTokenSchema = z.object({ token: z.number().int(), column: z.array(z.number()) });
export type InspectorToken = z.infer<typeof inspectorTokenSchema>;
