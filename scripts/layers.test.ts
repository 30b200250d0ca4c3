/**
 * The layer rules of docs/ARCHITECTURE.md held against every import in the
 * repository: each `.ts`/`.tsx` file (node_modules and build output aside)
 * imports only what the row of its layer in the table allows, and no two
 * files import each other at run time, directly or through others.
 *
 * The table is read from the document itself, so the page and the code
 * cannot drift apart: a new rule is a new row or entry there. Its format:
 *
 *   | layer | what lives there | may import | its tests may also import |
 *   | `models/contracts/` | … | `models/contracts/` | `models/` |
 *   | `web/` | … | `web/`, `models/contracts/`, `models/system/types.ts` (types only) | `models/` |
 *   | `scripts/` | … | anything | anything |
 *
 * A file belongs to the row with the longest folder its path starts with;
 * entries are path prefixes from the repository root; `(types only)` allows
 * `import type` and nothing else. Test files (`*.test.ts`, and `*.suite.ts`,
 * suites a test file runs) may also import the
 * last column. Files at the root (vite.config.ts …) belong to no layer.
 *
 * Cycles count runtime imports only: `import type` / `export type` and
 * `typeof import()` are erased by the compiler, and a dynamic `import()` runs
 * after every module has loaded. With `verbatimModuleSyntax`,
 * `import { type A } from` still loads its module, so it counts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const ARCHITECTURE = 'docs/ARCHITECTURE.md';
/** Folders never scanned: dependencies, build output, data, tool state. */
const SKIPPED = new Set(['node_modules', 'dist', 'data', 'coverage']);

/** What a row allows: path prefixes from the repository root, or anything. */
type Entry = { anything: true } | { prefix: string; typesOnly: boolean };

interface Layer {
  /** folder, with its trailing slash: `models/contracts/` */
  folder: string;
  allows: Entry[];
  testsAlsoAllow: Entry[];
}

/** One import of a file. */
interface Import {
  /** as written: `../db/client.ts` */
  spec: string;
  /** repository-relative path of what it names */
  target: string;
  /** erased at build: `import type`, `export type`, `typeof import()` */
  typeOnly: boolean;
  /** `import()`: loaded when called, not when the importer loads */
  dynamic: boolean;
  line: number;
}

/** Reads the table whose header starts with `| layer |` (see the file's TSDoc). */
function parseLayers(markdown: string): Layer[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^\|\s*layer\s*\|/i.test(l));
  if (start < 0) throw new Error(`${ARCHITECTURE}: no table whose header starts with "| layer |"`);
  const cells = (l: string) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  const header = cells(lines[start]!).map((h) => h.toLowerCase());
  const allowCol = header.indexOf('may import');
  const testsCol = header.indexOf('its tests may also import');
  if (allowCol < 0 || testsCol < 0) throw new Error(`${ARCHITECTURE}: the layer table needs the columns "may import" and "its tests may also import" (has: ${header.join(', ')})`);
  const entries = (cell: string, where: string): Entry[] =>
    cell.split(',').map((raw) => {
      const item = raw.trim();
      if (item === 'anything') return { anything: true };
      const m = /^`([^`]+)`(\s*\(types only\))?$/.exec(item);
      if (!m) throw new Error(`${ARCHITECTURE}: cannot read "${item}" in ${where}: write \`path/\`, \`path/file.ts\` (types only), or anything`);
      return { prefix: m[1]!, typesOnly: m[2] !== undefined };
    });
  const layers: Layer[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    const row = cells(line);
    const folder = /^`([^`]+\/)`$/.exec(row[0] ?? '')?.[1];
    if (!folder) throw new Error(`${ARCHITECTURE}: the first cell of "${line}" must be a folder in backticks, ending with /`);
    layers.push({ folder, allows: entries(row[allowCol] ?? '', `the "may import" of ${folder}`), testsAlsoAllow: entries(row[testsCol] ?? '', `the "its tests may also import" of ${folder}`) });
  }
  return layers;
}

/** Every `.ts`/`.tsx` file under the repository root, relative to it, sorted. */
function sourceFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIPPED.has(e.name)) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path.relative(ROOT, full).split(path.sep).join('/'));
  }
  return out.sort();
}

/** The file a relative specifier names (`./x.ts`, `./x`, `./x/index.ts`), relative to the root; the bare path when none exists. */
function resolve(from: string, spec: string): string {
  const base = path.resolve(ROOT, path.dirname(from), spec.replace(/[?#].*$/, ''));
  const found = [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts'), path.join(base, 'index.tsx')].find((p) => existsSync(p) && statSync(p).isFile());
  return path.relative(ROOT, found ?? base).split(path.sep).join('/');
}

/** The relative imports of one file, with the compiler's parser (comments and strings never count). */
function importsOf(file: string, source: string): Import[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, typeOnly: boolean, dynamic: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier) || !specifier.text.startsWith('.')) return;
    out.push({ spec: specifier.text, target: resolve(file, specifier.text), typeOnly, dynamic, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.phaseModifier === ts.SyntaxKind.TypeKeyword, false);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly, false);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression, node.isTypeOnly, false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true, false);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], false, true);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Tests, and the suites (`*.suite.ts`) a test file runs. */
const isTest = (file: string) => /\.(test|suite)\.tsx?$/.test(file);

/** The row a file belongs to: the longest folder its path starts with. */
function layerOf(file: string, layers: readonly Layer[]): Layer | undefined {
  return layers.filter((l) => file.startsWith(l.folder)).sort((a, b) => b.folder.length - a.folder.length)[0];
}

/** One line per import that its file's row does not allow (and per file in no row), naming file, line and import. */
function violations(files: ReadonlyMap<string, readonly Import[]>, layers: readonly Layer[]): string[] {
  const out: string[] = [];
  for (const [file, imports] of files) {
    if (!file.includes('/')) continue; // root config files belong to no layer
    const layer = layerOf(file, layers);
    if (!layer) {
      out.push(`${file}: in no layer of ${ARCHITECTURE} (add a row for its folder)`);
      continue;
    }
    const allowed = isTest(file) ? [...layer.allows, ...layer.testsAlsoAllow] : layer.allows;
    for (const imp of imports) {
      const ok = allowed.some((e) => 'anything' in e || ((imp.target === e.prefix || (e.prefix.endsWith('/') && imp.target.startsWith(e.prefix))) && (!e.typesOnly || imp.typeOnly)));
      if (!ok) out.push(`${file}:${imp.line}: imports '${imp.spec}' (${imp.target}${imp.typeOnly ? ', types only' : ''}), which ${layer.folder}${isTest(file) ? ' tests' : ''} may not import`);
    }
  }
  return out;
}

/** Relative imports that name no file. */
function unresolved(files: ReadonlyMap<string, readonly Import[]>): string[] {
  const out: string[] = [];
  for (const [file, imports] of files) for (const imp of imports) if (!existsSync(path.join(ROOT, imp.target))) out.push(`${file}:${imp.line}: imports '${imp.spec}', which is no file`);
  return out;
}

/**
 * The runtime import cycles, one line each: every group of files that reach
 * one another (Tarjan's strongly connected components), written as one cycle
 * through them, `a.ts → b.ts → a.ts`, followed by the rest of the group.
 */
function cycles(files: ReadonlyMap<string, readonly Import[]>): string[] {
  const edges = new Map<string, string[]>();
  for (const [file, imports] of files) edges.set(file, [...new Set(imports.filter((i) => !i.typeOnly && !i.dynamic && files.has(i.target)).map((i) => i.target))].sort());
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || edges.get(v)!.includes(v)) groups.push(group.sort());
    }
  };
  for (const f of [...files.keys()].sort()) if (!index.has(f)) connect(f);

  return groups.map((group) => {
    // the shortest way back to the group's first file, by breadth-first search inside the group
    const members = new Set(group);
    const first = group[0]!;
    const cameFrom = new Map<string, string>();
    const queue = [first];
    let last: string | undefined;
    while (queue.length && !last) {
      const v = queue.shift()!;
      for (const w of edges.get(v)!) {
        if (!members.has(w)) continue;
        if (w === first) {
          last = v;
          break;
        }
        if (!cameFrom.has(w)) {
          cameFrom.set(w, v);
          queue.push(w);
        }
      }
    }
    const loop = [first];
    for (let v = last!; v !== first; v = cameFrom.get(v)!) loop.splice(1, 0, v);
    const rest = group.filter((f) => !loop.includes(f));
    return `${[...loop, first].join(' → ')}${rest.length ? ` (and ${rest.join(', ')} in the same cycle)` : ''}`;
  });
}

describe('the layers of docs/ARCHITECTURE.md', () => {
  const layers = parseLayers(readFileSync(path.join(ROOT, ARCHITECTURE), 'utf8'));
  const files = new Map(sourceFiles().map((f) => [f, importsOf(f, readFileSync(path.join(ROOT, f), 'utf8'))] as const));

  it('has a row for each top-level folder of code', () => {
    expect(layers.map((l) => l.folder)).toEqual(expect.arrayContaining(['models/', 'db/', 'workers/', 'server/', 'web/', 'scripts/']));
    expect(files.size).toBeGreaterThan(100);
  });

  it('names files that exist in every relative import', () => {
    expect(unresolved(files)).toEqual([]);
  });

  it('holds for every import of every file', () => {
    expect(violations(files, layers)).toEqual([]);
  });

  it('has no runtime import cycle among files', () => {
    expect(cycles(files)).toEqual([]);
  });

  it('catches what it is there to catch', () => {
    const rules = parseLayers(
      [
        '| layer | what lives there | may import | its tests may also import |',
        '| --- | --- | --- | --- |',
        '| `models/` | core | `models/` | `scripts/testing/` |',
        '| `models/contracts/` | contracts | `models/contracts/` | `models/` |',
        '| `web/` | app | `web/`, `models/contracts/`, `models/system/types.ts` (types only) | anything |',
      ].join('\n'),
    );
    const imp = (target: string, typeOnly = false, dynamic = false): Import => ({ spec: target, target, typeOnly, dynamic, line: 1 });
    const fake = new Map<string, Import[]>([
      ['models/a.ts', [imp('models/b.ts'), imp('server/app.ts')]],
      ['models/b.ts', [imp('models/a.ts'), imp('models/c.ts', true)]],
      ['models/c.ts', [imp('models/a.ts')]],
      ['models/contracts/x.ts', [imp('models/a.ts')]],
      ['models/contracts/x.test.ts', [imp('models/a.ts'), imp('scripts/testing/db.ts')]],
      ['web/page.tsx', [imp('models/system/types.ts', true), imp('models/system/types.ts'), imp('web/other.tsx', false, true)]],
      ['web/other.tsx', [imp('web/page.tsx')]],
      ['docs/tool.ts', []],
    ]);
    expect(violations(fake, rules)).toEqual([
      "models/a.ts:1: imports 'server/app.ts' (server/app.ts), which models/ may not import",
      "models/contracts/x.ts:1: imports 'models/a.ts' (models/a.ts), which models/contracts/ may not import",
      "models/contracts/x.test.ts:1: imports 'scripts/testing/db.ts' (scripts/testing/db.ts), which models/contracts/ tests may not import",
      "web/page.tsx:1: imports 'models/system/types.ts' (models/system/types.ts), which web/ may not import",
      'docs/tool.ts: in no layer of docs/ARCHITECTURE.md (add a row for its folder)',
    ]);
    // b → c is type-only and page → other is dynamic: one cycle remains
    expect(cycles(fake)).toEqual(['models/a.ts → models/b.ts → models/a.ts']);
    expect(importsOf('x.ts', "import type { A } from './a.ts';\nimport { type B } from './b.ts';\nexport type { C } from './c.ts';\n// import { D } from './d.ts';\nconst e = await import('./e.ts');\ntype F = typeof import('./f.ts');\nexport * from './g.ts';")).toEqual([
      { spec: './a.ts', target: 'a.ts', typeOnly: true, dynamic: false, line: 1 },
      { spec: './b.ts', target: 'b.ts', typeOnly: false, dynamic: false, line: 2 },
      { spec: './c.ts', target: 'c.ts', typeOnly: true, dynamic: false, line: 3 },
      { spec: './e.ts', target: 'e.ts', typeOnly: false, dynamic: true, line: 5 },
      { spec: './f.ts', target: 'f.ts', typeOnly: true, dynamic: false, line: 6 },
      { spec: './g.ts', target: 'g.ts', typeOnly: false, dynamic: false, line: 7 },
    ]);
  });
});
