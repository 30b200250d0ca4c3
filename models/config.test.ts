import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_DOCS, isLoopback, loadConfig } from './config.ts';

describe('configuration', () => {
  it('documents every variable in the README table, with the same defaults', () => {
    const readme = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| (.+?) \| .+ \|$/gm)].map((m) => [m[1], m[2]!.replace(/`/g, '')]);
    expect(rows).toEqual(ENV_DOCS.map((d) => [d.name, d.default]));
  });

  it('has sensible defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8787, wsPort: 8788, pgPort: 54329, device: 'auto', systemSampleMs: 2000, token: undefined, sampler: undefined });
    expect(c.dataDir).toBe(path.resolve('data'));
    expect(c.demo).toBe(true);
    expect(loadConfig({ LOUPE_DEMO: '0' }).demo).toBe(false);
  });

  it('rejects bad values with the variable named', () => {
    const bad: [Record<string, string>, string][] = [
      [{ PORT: 'abc' }, 'PORT'],
      [{ PORT: '70000' }, 'PORT'],
      [{ LOUPE_DEVICE: 'tpu' }, 'LOUPE_DEVICE'],
      [{ LOUPE_DEVICE: 'cuda' }, 'LOUPE_DEVICE'],
      [{ HOST: '0.0.0.0' }, 'LOUPE_TOKEN'],
      [{ HOST: '192.168.1.5', LOUPE_TOKEN: 'short' }, 'LOUPE_TOKEN'],
      [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
      [{ SYSTEM_SAMPLE_MS: '10' }, 'SYSTEM_SAMPLE_MS'],
      [{ LOUPE_SAMPLER: 'yes' }, 'LOUPE_SAMPLER'],
      [{ LOUPE_DEMO: 'yes' }, 'LOUPE_DEMO'],
    ];
    for (const [env, variable] of bad) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
      try {
        loadConfig(env);
      } catch (err) {
        expect((err as ConfigError).variable).toBe(variable);
        expect((err as Error).message.startsWith(variable + ':')).toBe(true);
      }
    }
    expect(loadConfig({ HOST: '0.0.0.0', LOUPE_TOKEN: 'a'.repeat(32) }).token).toBe('a'.repeat(32));
    // cuda is gone, with a message that says why and what to use
    expect(() => loadConfig({ LOUPE_DEVICE: 'cuda' })).toThrow('LOUPE_DEVICE: the npm build of ONNX Runtime has no CUDA provider: use LOUPE_DEVICE=webgpu for an NVIDIA GPU');
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) expect(isLoopback(h), h).toBe(false);
  });
});
