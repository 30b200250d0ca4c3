/**
 * `loupe sae import|export`: SAEs in SAELens layout in and out of a running
 * Loupe, through its HTTP API (so it works against any server, local or not,
 * and never touches its DATA_DIR behind its back).
 *
 *   sae import DIR [--name NAME] [--model-id UUID]   registers a SAELens folder (cfg.json of SAELens 5 or 6 +
 *                                                    sae_weights.safetensors) that the server can read: it is
 *                                                    checked and copied under the server's DATA_DIR/saes
 *   sae export ID DIR                                writes SAE ID's cfg.json and sae_weights.safetensors to DIR
 *
 * The server is --server URL, else LOUPE_SERVER, else http://127.0.0.1:$PORT
 * (8787); LOUPE_TOKEN is sent as a bearer token when set. The SAE (import)
 * or a summary (export) goes to stdout as JSON.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { SAE_FILES, saeSchema } from '../../models/contracts/trainings.ts';
import { call, serverUrl, UsageError, type Command } from './args.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const command: Command = {
  usage: 'sae import DIR [--name NAME] [--model-id UUID] [--server URL] | sae export ID DIR [--server URL]',
  async run(args) {
    let values;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args,
        options: { server: { type: 'string' }, name: { type: 'string' }, 'model-id': { type: 'string' } },
        strict: true,
        allowPositionals: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const [action, ...rest] = positionals;
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
    throw new UsageError(action ? `unknown action "${action}" (import or export)` : 'import or export?');
  },
};
