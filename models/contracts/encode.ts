/**
 * `POST /api/saes/{id}/encode`: text or token ids through the SAE's model up
 * to its hook and through the SAE's encoder, answered per token with its
 * largest active features. Computed by a `features.analyze` job of kind
 * `encode` (workers/features-analyze.ts) and cached like the feature
 * analyses.
 */
import { z } from 'zod';
import { jobDeviceSchema } from './device.ts';

/** Limits and defaults of the encode API. */
export const ENCODE_LIMITS = {
  /** features a token by default */
  DEFAULT_TOP_K: 10,
  /** characters of `text` (tokenized on the server; the model's context is the real bound) */
  MAX_TEXT_CHARS: 65_536,
  /** entries of `ids` (the model's context is the real bound) */
  MAX_IDS: 65_536,
} as const;

/**
 * The body: `text` (tokenized with the model's tokenizer, no special token
 * added) or `ids` (token ids of the model's vocabulary), never both; `topK`
 * features a token at most (1 to the SAE's d_sae, checked against the SAE).
 */
export const encodeRequestSchema = z
  .object({
    text: z.string().min(1).max(ENCODE_LIMITS.MAX_TEXT_CHARS).optional(),
    ids: z.array(z.number().int().min(0).max(2 ** 31 - 1)).min(1).max(ENCODE_LIMITS.MAX_IDS).optional(),
    topK: z.number().int().min(1).max(2 ** 31 - 1).default(ENCODE_LIMITS.DEFAULT_TOP_K),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.text === undefined && b.ids === undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'give text (tokenized with the model\'s tokenizer) or ids (token ids)' });
    if (b.text !== undefined && b.ids !== undefined) ctx.addIssue({ code: 'custom', path: ['ids'], message: 'give text or ids, not both' });
  });
export type EncodeRequest = z.input<typeof encodeRequestSchema>;

/** One feature active on a token: its index in the SAE and its activation (> 0). */
export const tokenFeatureSchema = z.object({ index: z.number().int(), value: z.number() });

/**
 * The answer. `tokens` are the caller's tokens, in order (the text's tokens
 * or the ids as given), each with its `topK` largest positive activations,
 * in descending order (ties: the lower index first); a token with fewer
 * active features lists fewer. `addedBos`: whether a BOS token was put
 * before them for the forward pass, as the SAE's activations were recorded
 * (its cfg.json `prepend_bos`, when the tokenizer has a BOS and the tokens do
 * not already start with it); that BOS is not listed. `device`: where the
 * model's forward (`model`) and the SAE's encoder (`sae`) ran.
 */
export const encodeResponseSchema = z.object({
  saeId: z.string(),
  modelId: z.string(),
  hookPoint: z.string(),
  addedBos: z.boolean(),
  topK: z.number().int(),
  tokens: z.array(z.object({ id: z.number().int(), text: z.string(), features: z.array(tokenFeatureSchema) })),
  device: jobDeviceSchema,
  cached: z.boolean(),
  computedAt: z.number(),
});
export type EncodeResponse = z.infer<typeof encodeResponseSchema>;

/** What an `encode` job computes and caches (the answer without what the server adds). */
export type EncodeResult = Pick<EncodeResponse, 'addedBos' | 'tokens' | 'device'>;
