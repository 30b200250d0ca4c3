/**
 * `npm run -s loupe -- <command> [options]`: Loupe from the command line, for
 * people and pipelines. Each command is a file in scripts/cli/. Results go to
 * stdout (JSON where they are data), messages to stderr; exit status 0 on
 * success, 1 on failure, 2 on bad usage.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, type Command } from './cli/args.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli');
const commands = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'args.ts')
  .map((f) => f.slice(0, -3))
  .sort();

async function main(): Promise<number> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const lines = await Promise.all(commands.map(async (c) => `  ${((await import(path.join(dir, `${c}.ts`))) as { command: Command }).command.usage}`));
    console.error(`usage: npm run -s loupe -- <command> [options]\n\ncommands:\n${lines.join('\n')}`);
    return name ? 0 : 2;
  }
  if (!commands.includes(name)) {
    console.error(`loupe: unknown command "${name}"; commands: ${commands.join(', ')}`);
    return 2;
  }
  const { command } = (await import(path.join(dir, `${name}.ts`))) as { command: Command };
  try {
    await command.run(args);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`loupe ${name}: ${err.message}\nusage: ${command.usage}`);
      return 2;
    }
    console.error(`loupe ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main();
