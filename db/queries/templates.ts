/**
 * Templates (saved presets) of extractions and of trainings, kept in the
 * key/value `settings` table, one row per template under the key
 * `<kind>.templates/<id>`: no read-modify-write of one shared value, so
 * concurrent edits never lose one another. Both kinds behave the same and
 * differ only in their key prefix and the settings a template holds.
 */
import { randomUUID } from 'node:crypto';
import { eq, like, sql } from 'drizzle-orm';
import type { ExtractionTemplate } from '../../models/contracts/extractions.ts';
import type { TrainingTemplate } from '../../models/contracts/trainings.ts';
import type { Db } from '../client.ts';
import { settings } from '../schema.ts';

/** The template of each kind. */
export interface TemplateOf {
  extraction: ExtractionTemplate;
  training: TrainingTemplate;
}
/** `extraction` or `training`. */
export type TemplateKind = keyof TemplateOf;

/** Key prefix of each kind's templates in the `settings` table. */
export const TEMPLATE_KEY_PREFIX: { readonly [K in TemplateKind]: string } = { extraction: 'extraction.templates/', training: 'training.templates/' };

const keyOf = (kind: TemplateKind, id: string) => `${TEMPLATE_KEY_PREFIX[kind]}${id}`;
const allOf = (kind: TemplateKind) => like(settings.key, `${TEMPLATE_KEY_PREFIX[kind]}%`);

/** Every template of `kind`, by name. */
export async function listTemplates<K extends TemplateKind>(db: Db, kind: K): Promise<TemplateOf[K][]> {
  const rows = await db.select({ value: settings.value }).from(settings).where(allOf(kind));
  return rows.map((r) => r.value as TemplateOf[K]).sort((a, b) => a.name.localeCompare(b.name) || a.createdAt - b.createdAt);
}

/** One template of `kind`, or undefined. */
export async function getTemplate<K extends TemplateKind>(db: Db, kind: K, id: string): Promise<TemplateOf[K] | undefined> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, keyOf(kind, id)));
  return row ? (row.value as TemplateOf[K]) : undefined;
}

/**
 * Saves a new template of `kind`, unless one of that kind already has this
 * name (compared without case) or `max` templates of it exist. Saves are
 * serialised by a transaction lock, so two saves of one name cannot both
 * succeed. Returns the template, or why it was not saved.
 */
export async function insertTemplate<K extends TemplateKind>(
  db: Db,
  kind: K,
  t: { name: string; settings: TemplateOf[K]['settings'] },
  max: number,
): Promise<TemplateOf[K] | 'name_taken' | 'too_many'> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${TEMPLATE_KEY_PREFIX[kind]}))`);
    const existing = await tx.select({ value: settings.value }).from(settings).where(allOf(kind));
    const names = existing.map((r) => (r.value as TemplateOf[K]).name.toLowerCase());
    if (names.includes(t.name.toLowerCase())) return 'name_taken' as const;
    if (names.length >= max) return 'too_many' as const;
    const template = { id: randomUUID(), name: t.name, settings: t.settings, createdAt: Date.now() } as TemplateOf[K];
    await tx.insert(settings).values({ key: keyOf(kind, template.id), value: template });
    return template;
  });
}

/** Deletes a template of `kind`; true when it existed. */
export async function deleteTemplate(db: Db, kind: TemplateKind, id: string): Promise<boolean> {
  const rows = await db
    .delete(settings)
    .where(eq(settings.key, keyOf(kind, id)))
    .returning({ key: settings.key });
  return rows.length > 0;
}
