/**
 * Test helper process: publishes one event through db/events, as any worker
 * would, then exits. Usage: publish-event.ts TOPIC JSON_FILE (DATABASE_URL set).
 */
import { readFileSync } from 'node:fs';
import { openDatabase } from '../../db/client.ts';
import { createEvents } from '../../db/events.ts';
import type { Topic } from '../../models/contracts/topics.ts';

const [topic, file] = process.argv.slice(2);
if (!topic || !file || !process.env.DATABASE_URL) {
  console.error('usage: DATABASE_URL=... publish-event.ts TOPIC JSON_FILE');
  process.exit(2);
}
const database = openDatabase(process.env.DATABASE_URL);
await createEvents(database.pool).publish(topic as Topic, JSON.parse(readFileSync(file, 'utf8')));
await database.close();
