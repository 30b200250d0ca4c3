/**
 * The embedded cluster after a kill -9 whose pid was taken since by another
 * process: its postmaster.pid names a live process, which PostgreSQL takes for
 * a running postmaster. The start removes that file (no process is attached
 * to the shared memory it names) and comes up on the same data.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../scripts/testing/launcher.ts';
import { freePort } from '../scripts/testing/ports.ts';
import { startEmbeddedPostgres } from './postgres.ts';

describe('embedded PostgreSQL', () => {
  const dir = tempDataDir('loupe-pg-stale-');
  // the process that took the pid runs as PostgreSQL's user (as root, `postgres`), so that PostgreSQL can signal it and
  // takes it for a live postmaster (a process it may not signal it rightly takes for someone else's)
  const ids = process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) } : {};
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore', ...ids });
  afterAll(() => {
    sleeper.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts over a postmaster.pid whose pid another process has taken', async () => {
    const opts = { dir: path.join(dir, 'pg'), port: await freePort(), logFile: path.join(dir, 'pg.log') };
    const first = await startEmbeddedPostgres(opts);
    const client = new pg.Client({ connectionString: first.url });
    await client.connect();
    await client.query('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$before$$)');
    await client.end();
    const pidFile = path.join(opts.dir, 'postmaster.pid');
    const lines = readFileSync(pidFile, 'utf8').split('\n');
    await first.stop();

    // What a kill -9 leaves, the pid since recycled: the same file, naming a live process that is not PostgreSQL.
    lines[0] = String(sleeper.pid);
    writeFileSync(pidFile, lines.join('\n'));
    const second = await startEmbeddedPostgres(opts);
    try {
      expect(second.adopted).toBe(false);
      expect(second.pid).not.toBe(sleeper.pid);
      const again = new pg.Client({ connectionString: second.url });
      await again.connect();
      expect((await again.query('SELECT v FROM kept')).rows).toEqual([{ v: 'before' }]);
      await again.end();
    } finally {
      await second.stop();
    }
  });
});
