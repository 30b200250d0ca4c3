import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes a new migration from db/schema.ts; migrations
// are committed and applied at start by db/migrate.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
});
