/**
 * The documentation stays true to the repository: every relative link of
 * README.md, CONTRIBUTING.md and docs/*.md names a file of the repository
 * (and its `#anchor` a heading of that file), and every route they name in
 * code spans (`GET /api/models/{id}`) is in the API's OpenAPI document, which
 * names every resource of the API at least once in the README.
 *
 * The OpenAPI document is built in-process from `createApp` with no database
 * behind it: serving `/api/openapi.json` touches none of the app's dependencies.
 * (models/config.test.ts keeps the README's table of environment variables.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../server/app.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
/** The pages checked, relative to the root. */
const DOCS = ['README.md', 'CONTRIBUTING.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Markdown without its fenced code blocks (their lines blanked, so line numbers stay). */
function withoutFences(markdown: string): string {
  let inFence = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return '';
      }
      return inFence ? '' : line;
    })
    .join('\n');
}

/** The targets of a page's links and images, `[text](target)` and `[id]: target`, outside code, with their line. */
function linksOf(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  withoutFences(markdown)
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.replace(/`[^`]*`/g, '');
      for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, line: i + 1 });
      const ref = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
      if (ref) out.push({ target: ref[1]!, line: i + 1 });
    });
  return out;
}

/** GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as `-`, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The routes a page names in code spans: `GET /api/x/{id}`, `GET/POST /api/x`, `POST /api/x/{id}/pause|resume`; the query left out. */
function routesOf(markdown: string): { methods: string[]; path: string; text: string }[] {
  const out: { methods: string[]; path: string; text: string }[] = [];
  const method = `(?:${METHODS.join('|')})`;
  for (const m of withoutFences(markdown).matchAll(new RegExp(`\`(${method}(?:/${method})*) (/api/[^\`\\s?]*)[^\`]*\``, 'g'))) {
    // `a|b` in a segment names one route per alternative (`a\|b` inside a table)
    let paths = [''];
    for (const seg of m[2]!.replaceAll('\\|', '|').split('/').slice(1)) paths = paths.flatMap((p) => seg.split('|').map((alt) => `${p}/${alt}`));
    for (const p of paths) out.push({ methods: m[1]!.split('/'), path: p, text: m[0]! });
  }
  return out;
}

/** Whether a documented path names an OpenAPI path: the same segments, where `{param}` of the document stands for any one segment. */
function matches(documented: string, openapi: string): boolean {
  const a = documented.split('/');
  const b = openapi.split('/');
  return a.length === b.length && a.every((seg, i) => seg === b[i] || (/^\{[^}]+\}$/.test(b[i]!) && seg !== ''));
}

describe('the documentation', () => {
  const pages = new Map(DOCS.map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
  let paths: Record<string, Record<string, unknown>>;

  beforeAll(async () => {
    // Only the middleware's access check and the document itself run: no database, queue or storage is touched.
    const app = createApp({ version: '0.0.0-docs', token: undefined } as unknown as AppDeps);
    const res = await app.request('/api/openapi.json', { headers: { host: '127.0.0.1:8787' } });
    expect(res.status).toBe(200);
    paths = ((await res.json()) as { paths: Record<string, Record<string, unknown>> }).paths;
  });

  it('links only to files of the repository, and to headings that exist', () => {
    const broken: string[] = [];
    for (const [page, text] of pages) {
      for (const { target, line } of linksOf(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const resolved = file === '' ? path.join(ROOT, page) : path.resolve(ROOT, path.dirname(page), decodeURIComponent(file));
        const where = `${page}:${line}: ${target}`;
        if (path.relative(ROOT, resolved).startsWith('..') || path.isAbsolute(file)) broken.push(`${where} is outside the repository`);
        else if (!existsSync(resolved) || resolved.split(path.sep).includes('node_modules')) broken.push(`${where} names no file`);
        else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${where}: no heading has the anchor #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('names only routes that the OpenAPI document has', () => {
    const unknown: string[] = [];
    for (const [page, text] of pages) {
      for (const route of routesOf(text)) {
        const found = Object.keys(paths).find((p) => matches(route.path, p) && route.methods.every((m) => m.toLowerCase() in paths[p]!));
        if (!found) unknown.push(`${page}: ${route.text} (${route.methods.join('/')} ${route.path})`);
      }
    }
    expect(Object.keys(paths).length).toBeGreaterThan(30);
    expect(unknown).toEqual([]);
  });

  it('names in the README a route of every resource of the API', () => {
    const named = new Set(routesOf(pages.get('README.md')!).map((r) => r.path.split('/')[2]));
    const resources = [...new Set(Object.keys(paths).map((p) => p.split('/')[2]!))].sort();
    expect(resources.filter((r) => !named.has(r))).toEqual([]);
  });

  it('reads links, anchors and routes as GitHub and a reader do', () => {
    const page = ['# Loupe', '## What `npm start` runs', '## API', '## API', 'See [a](docs/A.md#x-y "t"), ![b](b.png) and `[c](c.md)`.', '```', '[d](d.md) `GET /api/nothing`', '```', '[e]: e.md', '`GET/DELETE /api/models/{id}` and `POST /api/trainings/{id}/pause|stop` and `GET /api/features?q=` | `GET /api/saes/{id}/files/cfg.json\\|x` |'].join('\n');
    expect(linksOf(page).map((l) => l.target)).toEqual(['docs/A.md#x-y', 'b.png', 'e.md']);
    expect([...anchorsOf(page)]).toEqual(['loupe', 'what-npm-start-runs', 'api', 'api-1']);
    expect(routesOf(page).map((r) => `${r.methods.join('/')} ${r.path}`)).toEqual(['GET/DELETE /api/models/{id}', 'POST /api/trainings/{id}/pause', 'POST /api/trainings/{id}/stop', 'GET /api/features', 'GET /api/saes/{id}/files/cfg.json', 'GET /api/saes/{id}/files/x']);
    expect(matches('/api/features/{saeId}:{index}', '/api/features/{id}')).toBe(true);
    expect(matches('/api/saes/{id}/files/cfg.json', '/api/saes/{id}/files/{name}')).toBe(true);
    expect(matches('/api/saes/{id}', '/api/saes/import')).toBe(false);
  });
});
