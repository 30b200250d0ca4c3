/**
 * Training templates (saved presets of SAE hyperparameters and hook points), kept in
 * the key/value `settings` table, one row per template under the key
 * `training.templates/<id>`: no read-modify-write of one shared value, so
 * concurrent edits never lose one another.
 */
import { randomUUID } from 'node:crypto';
import { eq, like, sql } from 'drizzle-orm';
import type { TrainingTemplate, TrainingTemplateSettings } from '../../models/contracts/trainings.ts';
import type { Db } from '../client.ts';
import { settings } from '../schema.ts';

/** Key prefix of the templates in the `settings` table. */
export const TRAINING_TEMPLATE_KEY_PREFIX = 'training.templates/';

const keyOf = (id: string) => `${TRAINING_TEMPLATE_KEY_PREFIX}${id}`;

/** Every template, by name. */
export async function listTrainingTemplates(db: Db): Promise<TrainingTemplate[]> {
  const rows = await db.select({ value: settings.value }).from(settings).where(like(settings.key, `${TRAINING_TEMPLATE_KEY_PREFIX}%`));
  return rows.map((r) => r.value as TrainingTemplate).sort((a, b) => a.name.localeCompare(b.name) || a.createdAt - b.createdAt);
}

/** One template, or undefined. */
export async function getTrainingTemplate(db: Db, id: string): Promise<TrainingTemplate | undefined> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, keyOf(id)));
  return row ? (row.value as TrainingTemplate) : undefined;
}

/**
 * Saves a new template, unless one already has this name (compared without
 * case) or `max` templates exist. Saves are serialised by a transaction lock,
 * so two saves of one name cannot both succeed. Returns the template, or why
 * it was not saved.
 */
export async function insertTrainingTemplate(db: Db, t: { name: string; settings: TrainingTemplateSettings }, max: number): Promise<TrainingTemplate | 'name_taken' | 'too_many'> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${TRAINING_TEMPLATE_KEY_PREFIX}))`);
    const existing = await tx.select({ value: settings.value }).from(settings).where(like(settings.key, `${TRAINING_TEMPLATE_KEY_PREFIX}%`));
    const names = existing.map((r) => (r.value as TrainingTemplate).name.toLowerCase());
    if (names.includes(t.name.toLowerCase())) return 'name_taken' as const;
    if (names.length >= max) return 'too_many' as const;
    const template: TrainingTemplate = { id: randomUUID(), name: t.name, settings: t.settings, createdAt: Date.now() };
    await tx.insert(settings).values({ key: keyOf(template.id), value: template });
    return template;
  });
}

/** Deletes a template; true when it existed. */
export async function deleteTrainingTemplate(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .delete(settings)
    .where(eq(settings.key, keyOf(id)))
    .returning({ key: settings.key });
  return rows.length > 0;
}
