/**
 * Vitest global setup: one real PostgreSQL cluster (the embedded binaries) for
 * the whole run, in a temporary folder, removed afterwards. Each test file
 * makes its own database in it (see db.ts beside this file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/postgres.ts';
import { freePort } from './ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** connection string of the cluster's `postgres` database (can CREATE DATABASE) */
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-test-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, which must reach the folder.
  await import('node:fs/promises').then((fs) => fs.chmod(dir, 0o755));
  const pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), logFile: path.join(dir, 'postgres.log'), database: 'postgres' });
  project.provide('pgAdminUrl', pg.url);
  return async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
