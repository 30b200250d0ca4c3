/**
 * `npm run bench -- <name> [options]`: runs one benchmark (or all with no
 * name) and prints JSON lines, one per measured case.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bench');
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
const chosen = name && !name.startsWith('-') ? [name] : available;
for (const bench of chosen) {
  if (!available.includes(bench)) {
    console.error(`unknown benchmark "${bench}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
  const mod = (await import(path.join(dir, `${bench}.ts`))) as { run(args: string[]): Promise<void> };
  await mod.run(name === bench ? args : []);
}
