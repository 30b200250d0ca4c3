/**
 * `npm start` itself (npm → sh → the launcher), stopped the way process
 * managers stop it: SIGTERM (systemd, docker, supervisord) or SIGHUP (a closed
 * terminal) sent to npm's pid only, not to its process group. npm passes
 * SIGTERM on; it dies of SIGHUP and the launcher sees it gone. Either way
 * nothing is left: no launcher, server, worker or PostgreSQL process, the
 * ports free, and PostgreSQL shut down cleanly (its pid file removed, its log
 * saying so). The second run reuses the first one's DATA_DIR (no initdb).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, processTree, tempDataDir } from './testing/launcher.ts';
import { freePort } from './testing/ports.ts';
import { ROOT, waitFor } from './testing/processes.ts';

/** True when nothing listens on 127.0.0.1:`port` any more (we can listen there ourselves). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const shutDownLines = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').match(/database system is shut down/g)?.length ?? 0 : 0);

describe('npm start stopped by a process manager', () => {
  const dataDir = tempDataDir('loupe-signals-');
  const leftovers: number[] = [];
  afterAll(() => {
    // a failed run must not leave its processes to the next test (only ours: a pid may have been recycled since)
    for (const pid of leftovers) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(dataDir) || /scripts\/start\.ts|server\/main\.ts|workers\/main\.ts|npm/.test(cmd)) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s to npm’s pid stops every process, frees the ports and shuts PostgreSQL down cleanly', async (signal) => {
    const ports = { port: await freePort(), wsPort: await freePort(), pgPort: await freePort() };
    const pgLog = path.join(dataDir, 'logs', 'postgres.log');
    const cleanBefore = shutDownLines(pgLog);
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(ports.port),
      WS_PORT: String(ports.wsPort),
      PG_PORT: String(ports.pgPort),
      DATABASE_URL: '',
      LOUPE_TOKEN: '',
      LOUPE_DEMO: '0',
      LOG_LEVEL: 'info',
    };
    // As systemd runs it: its own process group, and the signal to the main pid only.
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout!.on('data', (d) => (out += d));
    npm.stderr!.on('data', (d) => (out += d));
    const npmExit = new Promise<number | string>((resolve) => npm.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
    await waitFor(
      'the launcher banner',
      () => {
        if (npm.exitCode !== null) throw new Error(`npm start exited:\n${out}`);
        return /Loupe is running at/.test(out) || undefined;
      },
      240_000,
      100,
    );
    const tree = processTree(npm.pid!);
    leftovers.push(...tree);
    const postmaster = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    // npm, the launcher (sh exec'd into node), server, worker, the postmaster and its own processes
    expect(tree).toContain(postmaster);
    expect(tree.length).toBeGreaterThanOrEqual(5);
    expect(await portFree(ports.port)).toBe(false);

    process.kill(npm.pid!, signal);
    await waitFor('every process of npm start to exit', () => (tree.every((pid) => !isAlive(pid)) ? true : undefined), 45_000, 100);
    const code = await npmExit;
    // npm passes SIGTERM on and reports the launcher's exit; it dies of SIGHUP itself
    expect(code).toBe(signal === 'SIGTERM' ? 0 : 'SIGHUP');

    expect(out).toMatch(signal === 'SIGTERM' ? /SIGTERM: stopping Loupe/ : /npm start has gone away: stopping Loupe/);
    expect(out).toMatch(/\[server\] stopped/);
    expect(out).toMatch(/\[worker\] stopped/);
    expect(out).toMatch(/PostgreSQL stopped/);
    // a clean shutdown: the pid file removed and the log's last word on it, once more than before this run
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    expect(shutDownLines(pgLog)).toBe(cleanBefore + 1);
    for (const p of [ports.port, ports.wsPort, ports.pgPort]) expect(await portFree(p), `port ${p}`).toBe(true);
  });
});
