/**
 * The encode of tokens by an SAE (`POST /api/saes/{id}/encode`). The body is
 * checked here against the SAE, its model and its tokenizer, with light
 * reads only (config.json and safetensors headers, tokenizer.json), so a
 * bad request is a 400 naming the field before any job. The BOS is chosen as
 * the SAE's activations were recorded; then a `features.analyze` job of kind
 * `encode` computes the answer (analyses.ts: cached, shared by equal
 * requests, waited for), under a key that names the tokens by their hash.
 */
import type { z } from 'zod';
import type { encodeRequestSchema, EncodeResponse, EncodeResult } from '../../models/contracts/encode.ts';
import { fromSaeLensCfg } from '../../models/sae/saelens.ts';
import { modelOfSae } from '../../db/queries/discoveries.ts';
import { getSae } from '../../db/queries/saes.ts';
import { AppError } from '../errors.ts';
import { fieldError, notFound } from '../responses.ts';
import type { AppDeps } from '../app.ts';
import { analysis } from './analyses.ts';

/** SHA-256 of the ids, hex: the tokens' name in the cache key (a key holding them all could outgrow PostgreSQL's index entries). */
async function digest(ids: readonly number[]): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(ids.join(','))));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Encodes the body's text or ids with SAE `saeId`: its answer, or `{jobId}`
 * when the job outlasts the wait (for a 202).
 *
 * BOS: when the SAE's cfg.json says its activations were recorded with a BOS
 * first (`prepend_bos`, SAELens' default), the tokenizer has one and the
 * tokens do not already start with it, the BOS is run before the tokens and
 * counts towards the model's context, but is not listed (an extraction does
 * not store the rows of BOS). Text is tokenized without special tokens.
 */
export async function encodeWithSae(deps: Pick<AppDeps, 'db' | 'boss' | 'analysisWaitMs' | 'storage' | 'features'>, saeId: string, body: z.infer<typeof encodeRequestSchema>): Promise<EncodeResponse | { jobId: string }> {
  const sae = await getSae(deps.db, saeId);
  if (!sae) throw notFound('SAE', saeId);
  if (body.topK > sae.dSae) throw fieldError('topK', `must be at most ${sae.dSae}, the SAE's number of features`);
  const model = await modelOfSae(deps.db, sae.id);
  if (!model) throw new AppError('conflict', 409, `SAE ${sae.id} has no model to run: import it with its model (modelId), or train it on an extraction here`);
  const unreadable = (err: unknown) => new AppError('unreadable', 409, `the model of SAE ${sae.id} cannot be read: ${why(err)}`, { field: 'id' });
  const arch = await deps.storage.inspect(model.path).catch((err: unknown) => {
    throw unreadable(err);
  });
  const hook = arch.hookPoints.find((h) => h.name === sae.hookPoint);
  const d = hook?.shape.slice(2).reduce<number>((a, b) => a * (typeof b === 'number' ? b : NaN), 1);
  if (!hook || hook.shape[1] !== 'pos' || d !== sae.dIn) {
    throw new AppError('conflict', 409, `SAE ${sae.id} reads ${sae.dIn} values a token at ${sae.hookPoint}, which its model ${hook ? `gives as [${hook.shape.join(', ')}]` : 'does not have'}`, { field: 'id' });
  }
  const tok = await deps.features.tokenizer(model.path).catch((err: unknown) => {
    throw unreadable(err);
  });
  const field = body.text !== undefined ? 'text' : 'ids';
  const ids = body.text !== undefined ? Array.from(tok.encode(body.text, { addBos: false })) : body.ids!;
  if (ids.length === 0) throw fieldError(field, 'holds no token');
  const outside = ids.findIndex((id) => id >= arch.vocabSize);
  if (outside >= 0) throw fieldError(field, `${field === 'ids' ? `ids[${outside}]` : `token ${outside}`} = ${ids[outside]} is not below the model's vocabulary size ${arch.vocabSize}`);
  let prependBos: boolean;
  try {
    prependBos = fromSaeLensCfg(`${sae.path}/cfg.json`, sae.cfg).prependBos;
  } catch (err) {
    throw new AppError('conflict', 409, `SAE ${sae.id}: ${why(err)}`, { field: 'id' });
  }
  const bos = prependBos && tok.bosId !== null && ids[0] !== tok.bosId ? tok.bosId : null;
  if (ids.length + (bos === null ? 0 : 1) > arch.contextLength) {
    throw fieldError(field, `${ids.length} tokens${bos === null ? '' : ', with the BOS run before them,'} exceed the model's context length ${arch.contextLength}`);
  }
  const r = await analysis(deps, 'encode', sae.id, null, { topK: body.topK, bos: bos ?? 'none', ids: await digest(ids) }, { ids, bos });
  if ('jobId' in r) return r;
  const res = r.result as unknown as EncodeResult;
  return { saeId: sae.id, modelId: model.id, hookPoint: sae.hookPoint, addedBos: res.addedBos, topK: body.topK, tokens: res.tokens, device: res.device, cached: r.cached, computedAt: r.computedAt };
}
