/**
 * The browser's inspector of an SAE: `GET /api/saes/{id}/inspector` (the
 * manifest of the files the page downloads, built once by a
 * `features.analyze` job: server/artifacts/inspector.ts),
 * `GET /api/saes/{id}/inspector/files/{name}` (a file, with its SHA-256 as
 * ETag: the model's graph up to the SAE's hook, the encoder, the tokenizer,
 * the decoder rows), and `GET /api/saes/{id}/inspector/unembedding/{token}`
 * (one token's column of W_U, for the "features by token effect" search).
 */
import { createRoute } from '@hono/zod-openapi';
import { analysisPendingSchema } from '../../models/contracts/features.ts';
import { inspectorFileParamSchema, inspectorResponseSchema, inspectorTokenParamSchema, inspectorTokenSchema } from '../../models/contracts/inspector.ts';
import { saeIdParamSchema } from '../../models/contracts/trainings.ts';
import { inspectorOf, savedManifest } from '../artifacts/inspector.ts';
import { AppError } from '../errors.ts';
import { error, fieldError, json } from '../responses.ts';
import type { App } from '../app.ts';

const manifestRouteDef = createRoute({
  method: 'get',
  path: '/api/saes/{id}/inspector',
  summary:
    "The files the browser's inspector of the SAE downloads, with their sizes and SHA-256: the model's ONNX graph up to the SAE's hook and the SAE's encoder (fp32, the graphs the server runs), the tokenizer, the decoder rows (float32 and half); the BOS run before the text, the final norm's kind and gain. Built once by a job and cached; `browser.runnable` is false, with the reason, for a model too big for a browser (its decoder searches still work)",
  request: { params: saeIdParamSchema },
  responses: {
    200: json('The manifest', inspectorResponseSchema),
    202: json('Still building: send the same request again', analysisPendingSchema),
    400: error('Invalid id'),
    404: error('No such SAE'),
    409: error('The SAE has no model'),
    500: error('The build failed: the reason when it is one you can act on, else a generic message with the job id'),
    503: error('The job could not be queued; try again'),
  },
});

const fileRouteDef = createRoute({
  method: 'get',
  path: '/api/saes/{id}/inspector/files/{name}',
  summary:
    'A file of the SAE\'s inspector (the manifest lists them): `model.onnx`, `encoder.onnx`, `tokenizer.json`, `tokenizer_config.json`, `decoder.f32` / `decoder.f16` (W_dec [d_sae, d_in], little-endian float32 or half), `unembedding.f32`. The ETag is the file\'s SHA-256; `If-None-Match` with it answers 304',
  request: { params: inspectorFileParamSchema },
  responses: {
    200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    304: { description: 'Not modified (If-None-Match named its checksum)' },
    400: error('Invalid id or file name'),
    404: error('No such SAE, its inspector files are not built yet (GET /api/saes/{id}/inspector builds them), or the model has no such file'),
    422: error('The model is too big for a browser: the message says how big, and the limit'),
  },
});

const tokenRouteDef = createRoute({
  method: 'get',
  path: '/api/saes/{id}/inspector/unembedding/{token}',
  summary:
    "One token's column of the SAE's model's unembedding, W_U[:, token] [d_model] (no bias): with the manifest's final-norm gain, what a decoder row is dotted with to find the features that raise or lower that token's logit (the logit lens's convention)",
  request: { params: inspectorTokenParamSchema },
  responses: {
    200: json("The token's column", inspectorTokenSchema),
    400: error('Invalid id, or a token outside the vocabulary'),
    404: error('No such SAE, or its inspector files are not built yet'),
  },
});

export function registerInspectorRoutes(app: App): void {
  app.openapi(manifestRouteDef, async (c) => {
    const r = await inspectorOf(c.get('deps'), c.req.valid('param').id);
    return 'jobId' in r ? c.json(r, 202) : c.json(r, 200);
  });

  app.openapi(fileRouteDef, async (c) => {
    const { id, name } = c.req.valid('param');
    const deps = c.get('deps');
    const manifest = await savedManifest(deps, id);
    if ((name === 'model.onnx' || name === 'encoder.onnx') && !manifest.browser.runnable) {
      throw new AppError('too_large', 422, `SAE ${id}: ${manifest.browser.reason ?? 'its model is not built for the browser'}`, { field: 'id' });
    }
    const info = manifest.files[name];
    const file = info ? await deps.inspector.open(id, name) : null;
    if (!info || !file) throw new AppError('not_found', 404, `the inspector of SAE ${id} has no ${name}`, { field: 'name' });
    const etag = `"${info.sha256}"`;
    const headers = { etag, 'cache-control': 'no-cache' };
    if ((c.req.header('if-none-match') ?? '').split(',').some((t) => t.trim() === etag)) {
      await file.body.cancel();
      return c.body(null, 304, headers);
    }
    return c.body(file.body, 200, {
      ...headers,
      'content-type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'content-length': String(file.bytes),
    });
  });

  app.openapi(tokenRouteDef, async (c) => {
    const { id, token } = c.req.valid('param');
    const deps = c.get('deps');
    const manifest = await savedManifest(deps, id);
    if (token >= manifest.vocabSize) throw fieldError('token', `must be below the model's vocabulary size ${manifest.vocabSize}`, 'path parameters');
    const size = manifest.files['unembedding.f32']?.bytes ?? 0;
    const d = size / 4 / manifest.vocabSize;
    const row = Number.isInteger(d) && d > 0 ? await deps.inspector.read(id, 'unembedding.f32', token * d * 4, d * 4) : null;
    if (!row) throw new AppError('not_found', 404, `the inspector of SAE ${id} has no unembedding`, { field: 'id' });
    return c.json({ token, column: Array.from(new Float32Array(row.buffer, row.byteOffset, d)) }, 200);
  });
}
