/**
 * `npm start`'s launcher, for real: embedded PostgreSQL, migrations, server,
 * worker; Ctrl-C (SIGINT) leaves no process behind; a second start on the same
 * DATA_DIR finds the first one's data.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { healthSchema, systemMetricsSchema } from '../models/contracts/api.ts';
import { isAlive, launch, processTree, tempDataDir } from './testing/launcher.ts';
import { freePort } from './testing/ports.ts';
import { waitFor } from './testing/processes.ts';

describe('npm start', () => {
  const dataDir = tempDataDir('loupe-start-');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts everything, stops everything on SIGINT, and reuses its data on the next start', async () => {
    const ports = { port: await freePort(), wsPort: await freePort(), pgPort: await freePort() };
    const first = await launch(dataDir, { SYSTEM_SAMPLE_MS: '500' }, ports);
    const health = await waitFor('a worker in health', async () => {
      const h = healthSchema.parse(await (await fetch(`${first.base}/api/health`)).json());
      return h.workers.active === 1 ? h : undefined;
    });
    expect(health).toMatchObject({ status: 'ok', database: { ok: true }, queue: { ok: true } });
    expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    const page = await fetch(`${first.base}/system`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root">|<script type="module"/);
    const history = await waitFor('two samples stored', async () => {
      const m = systemMetricsSchema.parse(await (await fetch(`${first.base}/api/system/metrics?window=15m`)).json());
      return (m.series['cpu.total']?.t.length ?? 0) >= 2 ? m : undefined;
    });
    const firstSampleAt = history.series['cpu.total']!.t[0]!;

    const tree = processTree(first.proc.child.pid!);
    expect(tree.length).toBeGreaterThanOrEqual(4); // launcher, postgres, server, worker (and postgres' own children)
    expect(await first.proc.stop('SIGINT', 30_000)).toBe(0);
    await waitFor('every process of the first run to exit', () => (tree.every((pid) => !isAlive(pid)) ? true : undefined), 10_000);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    expect(first.proc.output()).toMatch(/PostgreSQL stopped/);

    const second = await launch(dataDir, {}, ports);
    try {
      const again = systemMetricsSchema.parse(await (await fetch(`${second.base}/api/system/metrics?window=15m`)).json());
      expect(again.series['cpu.total']!.t[0]).toBe(firstSampleAt);
      expect(second.proc.output()).not.toMatch(/initdb|building the web app/);
    } finally {
      expect(await second.proc.stop('SIGINT', 30_000)).toBe(0);
    }
  });

  it('after a SIGKILL of the launcher, the server and worker stop and the next start takes over PostgreSQL', async () => {
    const first = await launch(dataDir);
    const tree = processTree(first.proc.child.pid!);
    const pgPid = Number((await import('node:fs')).readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(first.proc.child.pid!, 'SIGKILL');
    // Everything but PostgreSQL (its own process group, left for the next launcher) goes away.
    await waitFor('server and worker to exit', () => (tree.filter((pid) => pid !== first.proc.child.pid && isAlive(pid) && !processTree(pgPid).includes(pid)).length === 0 ? true : undefined), 15_000);
    expect(isAlive(pgPid)).toBe(true);
    const second = await launch(dataDir, {}, { port: Number(first.env.PORT), wsPort: Number(first.env.WS_PORT), pgPort: Number(first.env.PG_PORT) });
    try {
      expect(second.proc.output()).toMatch(/PostgreSQL already running, taken over/);
      const health = healthSchema.parse(await (await fetch(`${second.base}/api/health`)).json());
      expect(health.status).toBe('ok');
    } finally {
      expect(await second.proc.stop('SIGINT', 30_000)).toBe(0);
    }
    await waitFor('PostgreSQL to stop', () => (isAlive(pgPid) ? undefined : true), 15_000);
  });
});
