/**
 * `loupe sae import|export|encode`: SAEs in SAELens layout in and out of a
 * running Loupe, and text through them, through its HTTP API (so it works
 * against any server, local or not, and never touches its DATA_DIR behind
 * its back).
 *
 *   sae import DIR [--name NAME] [--model-id UUID]   registers a SAELens folder (cfg.json of SAELens 5 or 6 +
 *                                                    sae_weights.safetensors) that the server can read: it is
 *                                                    checked and copied under the server's DATA_DIR/saes
 *   sae export ID DIR                                writes SAE ID's cfg.json and sae_weights.safetensors to DIR
 *   sae encode ID (--text T | --ids 1,2,3) [--top-k 10] [--wait 600]
 *                                                    each token's top-k active features (`POST /api/saes/{id}/encode`),
 *                                                    waiting for the server's job (re-sending on its 202) up to --wait s
 *
 * The server is --server URL, else LOUPE_SERVER, else http://127.0.0.1:$PORT
 * (8787); LOUPE_TOKEN is sent as a bearer token when set. The SAE (import),
 * a summary (export) or the API's answer (encode) goes to stdout as JSON. A
 * request the server refuses naming a field (text too long for the model,
 * ids outside its vocabulary, top-k above d_sae) is a usage error naming the
 * option.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { encodeRequestSchema, encodeResponseSchema } from '../../models/contracts/encode.ts';
import { analysisPendingSchema } from '../../models/contracts/features.ts';
import { SAE_FILES, saeSchema } from '../../models/contracts/trainings.ts';
import { ApiError, call, parseIntList, serverUrl, UsageError, type Command } from './args.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The option behind a field of the encode body (`ids.3` → `--ids`). */
const ENCODE_OPTIONS: Record<string, string> = { text: '--text', ids: '--ids', topK: '--top-k' };
const optionOf = (field: string) => ENCODE_OPTIONS[field.split('.')[0]!];

/** `sae encode`: the body checked as the server checks it, then POSTed again on each 202 until the answer or `--wait`. */
async function encode(id: string, values: { text?: string; ids?: string; 'top-k'?: string; wait?: string; server?: string }): Promise<void> {
  if (!UUID.test(id)) throw new UsageError(`"${id}" is not an SAE id (a UUID; \`GET /api/saes\` lists them)`);
  if ((values.text === undefined) === (values.ids === undefined)) throw new UsageError('give exactly one of --text "..." or --ids 1,2,3');
  const topK = values['top-k'];
  if (topK !== undefined && !/^\d+$/.test(topK)) throw new UsageError(`--top-k: "${topK}" is not a whole number`);
  const waitS = values.wait === undefined ? 600 : Number(values.wait);
  if (!(waitS >= 0)) throw new UsageError(`--wait: "${values.wait}" is not a number of seconds`);
  const input = { ...(values.text !== undefined ? { text: values.text } : { ids: parseIntList('--ids', values.ids!) }), ...(topK !== undefined ? { topK: Number(topK) } : {}) };
  const checked = encodeRequestSchema.safeParse(input);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new UsageError(`${optionOf(issue.path.join('.')) ?? 'options'}: ${issue.message}`);
  }
  const base = serverUrl(values.server);
  const deadline = Date.now() + waitS * 1000;
  let said = false;
  for (;;) {
    let res: Response;
    try {
      res = await call(base, `/api/saes/${id}/encode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
    } catch (err) {
      const first = err instanceof ApiError && err.status === 400 && Array.isArray(err.details) ? (err.details[0] as { field?: unknown; message?: unknown } | undefined) : undefined;
      const option = typeof first?.field === 'string' ? optionOf(first.field) : undefined;
      if (option) throw new UsageError(`${option}: ${String(first!.message)}`);
      throw err;
    }
    const body: unknown = await res.json();
    if (res.status !== 202) {
      const r = encodeResponseSchema.parse(body);
      console.error(`sae: ${r.tokens.length} tokens through ${r.hookPoint}${r.addedBos ? ' (after a BOS)' : ''}${r.cached ? ', cached' : ''}`);
      console.log(JSON.stringify(r));
      return;
    }
    const { jobId } = analysisPendingSchema.parse(body);
    if (!said) console.error(`sae: the server is computing it (job ${jobId}); waiting…`);
    said = true;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish within ${waitS} s (--wait); ask again later for the cached answer`);
    await sleep(1000);
  }
}

export const command: Command = {
  usage: 'sae import DIR [--name NAME] [--model-id UUID] [--server URL] | sae export ID DIR [--server URL] | sae encode ID (--text T | --ids 1,2,3) [--top-k 10] [--wait 600] [--server URL]',
  async run(args) {
    let values;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args,
        options: { server: { type: 'string' }, name: { type: 'string' }, 'model-id': { type: 'string' }, text: { type: 'string' }, ids: { type: 'string' }, 'top-k': { type: 'string' }, wait: { type: 'string' } },
        strict: true,
        allowPositionals: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const [action, ...rest] = positionals;
    const only: Record<string, string[]> = { import: ['server', 'name', 'model-id'], export: ['server'], encode: ['server', 'text', 'ids', 'top-k', 'wait'] };
    const stray = action && only[action] ? Object.keys(values).find((k) => !only[action]!.includes(k)) : undefined;
    if (stray) throw new UsageError(`--${stray} is not an option of sae ${action}`);
    if (action === 'import') {
      if (rest.length !== 1) throw new UsageError('import takes one folder: sae import DIR');
      if (values['model-id'] !== undefined && !UUID.test(values['model-id'])) throw new UsageError(`--model-id: "${values['model-id']}" is not a model id (a UUID)`);
      const base = serverUrl(values.server);
      const body = { path: path.resolve(rest[0]!), ...(values.name ? { name: values.name } : {}), ...(values['model-id'] ? { modelId: values['model-id'] } : {}) };
      const res = await call(base, '/api/saes/import', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const sae = saeSchema.parse(await res.json());
      console.error(`sae: imported ${sae.name} (${sae.architecture}, d_in ${sae.dIn}, d_sae ${sae.dSae}) as ${sae.id}`);
      console.log(JSON.stringify(sae));
      return;
    }
    if (action === 'export') {
      if (rest.length !== 2) throw new UsageError('export takes an SAE id and a folder: sae export ID DIR');
      const [id, dir] = rest as [string, string];
      if (!UUID.test(id)) throw new UsageError(`"${id}" is not an SAE id (a UUID; \`GET /api/saes\` lists them)`);
      const base = serverUrl(values.server);
      const sae = saeSchema.parse(await (await call(base, `/api/saes/${id}`)).json());
      const out = path.resolve(dir);
      await fs.mkdir(out, { recursive: true });
      const files: Record<string, number> = {};
      for (const name of SAE_FILES) {
        const res = await call(base, `/api/saes/${id}/files/${name}`);
        const tmp = path.join(out, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
        try {
          await pipeline(Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(tmp));
          await fs.rename(tmp, path.join(out, name));
        } catch (err) {
          await fs.rm(tmp, { force: true });
          throw err;
        }
        files[name] = (await fs.stat(path.join(out, name))).size;
      }
      console.error(`sae: exported ${sae.name} to ${out}`);
      console.log(JSON.stringify({ id, out, files, hookPoint: sae.hookPoint, architecture: sae.architecture, dIn: sae.dIn, dSae: sae.dSae }));
      return;
    }
    if (action === 'encode') {
      if (rest.length !== 1) throw new UsageError('encode takes one SAE id: sae encode ID (--text T | --ids 1,2,3)');
      return encode(rest[0]!, values);
    }
    throw new UsageError(action ? `unknown action "${action}" (import, export or encode)` : 'import, export or encode?');
  },
};
