/**
 * Builds the web app (Vite) into web/dist when it is missing or stale. Stale
 * means: the content of a source it depends on changed since the last build
 * (content hash, not mtimes, which a fresh clone resets).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { logger } from '../models/log.ts';

const log = logger('build');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'web', 'dist');
const STAMP = path.join(DIST, '.build-hash');
/** What the bundle is made from: the app, the browser-safe core it imports, and the build setup. */
const INPUTS = ['web', 'models', 'vite.config.ts', 'package-lock.json', 'tsconfig.json'];

function* files(p: string): Generator<string> {
  const full = path.join(ROOT, p);
  if (!existsSync(full)) return;
  if (!statSync(full).isDirectory()) {
    yield p;
    return;
  }
  for (const entry of readdirSync(full, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = path.join(p, entry.name);
    if (entry.isDirectory()) {
      if (rel === path.join('web', 'dist') || entry.name === 'node_modules') continue;
      yield* files(rel);
    } else if (/\.(tsx?|css|html|json|svg)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
      yield rel;
    }
  }
}

/** Content hash of every input of the web build. */
export function webSourceHash(): string {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    for (const file of files(input)) {
      hash.update(file + '\0');
      hash.update(readFileSync(path.join(ROOT, file)));
    }
  }
  return hash.digest('hex');
}

/** Runs `vite build` unless web/dist matches the sources. Returns true when it built. */
export async function ensureWebBuilt(): Promise<boolean> {
  const wanted = webSourceHash();
  if (existsSync(path.join(DIST, 'index.html')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === wanted) return false;
  log.info('building the web app (vite build)…');
  const started = Date.now();
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'vite.config.ts'), root: path.join(ROOT, 'web'), logLevel: 'warn' });
  writeFileSync(STAMP, wanted + '\n');
  log.info(`web app built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}
