/** The server's public configuration (`GET /api/config`), fetched once and shared. */
import { configSchema, type PublicConfig } from '../../models/contracts/api.ts';
import { getJson } from '../api.ts';

let pending: Promise<PublicConfig> | undefined;

/** Resolves with the server's config; a failed fetch is retried on the next call. */
export function loadConfig(): Promise<PublicConfig> {
  pending ??= getJson('/api/config', configSchema).catch((err) => {
    pending = undefined;
    throw err;
  });
  return pending;
}
