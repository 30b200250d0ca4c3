/**
 * User settings kept in the key/value `settings` table: the LLM endpoint that
 * labels features (key `llm`: `{url, model, apiKey}`). The key is read by the
 * worker and the label routes only; the API never returns it.
 */
import { eq } from 'drizzle-orm';
import type { LlmSettingsInput } from '../../models/contracts/features.ts';
import type { LlmEndpoint } from '../../models/features/llm.ts';
import type { Db } from '../client.ts';
import { settings } from '../schema.ts';

const LLM_KEY = 'llm';

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
 * keeps the stored key; null or '' removes it. Returns what is stored.
 */
export async function putLlmSettings(db: Db, input: LlmSettingsInput | null): Promise<LlmEndpoint | null> {
  if (input === null) {
    await db.delete(settings).where(eq(settings.key, LLM_KEY));
    return null;
  }
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ value: settings.value }).from(settings).where(eq(settings.key, LLM_KEY)).for('update');
    const previous = (row?.value as Partial<LlmEndpoint> | undefined)?.apiKey ?? null;
    const apiKey = input.apiKey === undefined ? previous : input.apiKey || null;
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
 */
export async function resolveLlmSettings(db: Db, input: LlmSettingsInput): Promise<LlmEndpoint> {
  const stored = input.apiKey === undefined ? await getLlmSettings(db) : null;
  return { url: input.url, model: input.model, apiKey: input.apiKey === undefined ? (stored?.apiKey ?? null) : input.apiKey || null };
}
