/**
 * User settings kept in the key/value `settings` table: the LLM endpoint that
 * labels features (key `llm`: `{url, model, apiKey}`). The key is read by the
 * worker and the label routes only; the API never returns it. The key is
 * bound to the endpoint it was saved with ({@link keyScope}): settings that
 * name another endpoint must give their own key (or none), so a stored key
 * is never sent to a URL that a later request chose.
 */
import { eq } from 'drizzle-orm';
import type { LlmSettingsInput } from '../../models/contracts/features.ts';
import type { LlmEndpoint } from '../../models/features/llm.ts';
import type { Db } from '../client.ts';
import { settings } from '../schema.ts';

const LLM_KEY = 'llm';

/**
 * The endpoint a stored key belongs to: the base URL's origin and path, a
 * trailing slash ignored (`http://h:8000/v1/` and `http://h:8000/v1` are one
 * endpoint; another host, port, scheme or path is another).
 * @example keyScope('HTTP://Example.com:443/v1/') // 'http://example.com:443/v1'
 */
export function keyScope(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}

/**
 * Settings that leave the key out while naming an endpoint other than the
 * stored one, whose key is stored: the key is not carried over to it.
 */
export class LlmKeyScopeError extends Error {
  constructor(readonly storedUrl: string) {
    super(`the stored key belongs to ${keyScope(storedUrl)}: give the key for a new endpoint again (or null for none)`);
    this.name = 'LlmKeyScopeError';
  }
}

/** The key settings `input` end with, given the stored endpoint: theirs, or the stored one for the same endpoint. */
function keyFor(input: LlmSettingsInput, stored: Partial<LlmEndpoint> | undefined): string | null {
  if (input.apiKey !== undefined) return input.apiKey || null;
  const key = typeof stored?.apiKey === 'string' && stored.apiKey ? stored.apiKey : null;
  if (key === null) return null;
  if (typeof stored?.url !== 'string' || keyScope(stored.url) !== keyScope(input.url)) throw new LlmKeyScopeError(typeof stored?.url === 'string' ? stored.url : '');
  return key;
}

/** The stored LLM endpoint, with its key, or null when LLM labels are off. */
export async function getLlmSettings(db: Db): Promise<LlmEndpoint | null> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, LLM_KEY));
  if (!row) return null;
  const v = row.value as Partial<LlmEndpoint>;
  if (typeof v.url !== 'string' || typeof v.model !== 'string') return null;
  return { url: v.url, model: v.model, apiKey: typeof v.apiKey === 'string' && v.apiKey ? v.apiKey : null };
}

/**
 * Stores the LLM endpoint (null turns LLM labels off). `apiKey` left out
 * keeps the stored key, for the same endpoint only ({@link keyScope}); null
 * or '' removes it. Returns what is stored.
 *
 * @throws LlmKeyScopeError when `apiKey` is left out, a key is stored, and
 * `url` names another endpoint
 */
export async function putLlmSettings(db: Db, input: LlmSettingsInput | null): Promise<LlmEndpoint | null> {
  if (input === null) {
    await db.delete(settings).where(eq(settings.key, LLM_KEY));
    return null;
  }
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ value: settings.value }).from(settings).where(eq(settings.key, LLM_KEY)).for('update');
    const apiKey = keyFor(input, row?.value as Partial<LlmEndpoint> | undefined);
    const value: LlmEndpoint = { url: input.url, model: input.model, apiKey };
    await tx
      .insert(settings)
      .values({ key: LLM_KEY, value })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: new Date() } });
    return value;
  });
}

/**
 * Merges `input` over the stored endpoint as {@link putLlmSettings} would,
 * without storing it (to try settings before saving them).
 *
 * @throws LlmKeyScopeError as putLlmSettings does
 */
export async function resolveLlmSettings(db: Db, input: LlmSettingsInput): Promise<LlmEndpoint> {
  const stored = input.apiKey === undefined ? ((await getLlmSettings(db)) ?? undefined) : undefined;
  return { url: input.url, model: input.model, apiKey: keyFor(input, stored) };
}
