#!/usr/bin/env node
// First step of `npm start`, `npm test` and `npm run worker`: checks Node and
// installs what is missing, with no dependency of its own (it runs before
// node_modules exists).
//   --test  also makes sure a Chromium for the browser tests is installed.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => console.error(`[bootstrap] ${msg}`);
const fail = (msg) => {
  console.error(`[bootstrap] ${msg}`);
  process.exit(1);
};

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) fail(`Node ${process.versions.node} is too old: Loupe needs Node 20.19 or newer.`);

// Dependencies: (re)install when the lockfile or package.json changed since the last install,
// package.json without its "scripts" (editing a script must not reinstall node_modules).
const stampFile = path.join(root, 'node_modules', '.loupe-install');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
delete pkg.scripts;
const hash = createHash('sha256');
hash.update(JSON.stringify(pkg));
hash.update(readFileSync(path.join(root, 'package-lock.json')));
const wanted = hash.digest('hex');
const have = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
if (have !== wanted) {
  say('installing dependencies (npm ci)…');
  const started = Date.now();
  // onnxruntime-node's postinstall downloads CUDA files: never wanted here, fatal without internet.
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_fund: 'false', npm_config_audit: 'false' };
  const npm = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath, 'ci', '--no-fund', '--no-audit']]
    : ['npm', ['ci', '--no-fund', '--no-audit']];
  // npm's output goes to stderr: stdout belongs to the command being run (the CLI prints JSON there)
  const r = spawnSync(npm[0], npm[1], { cwd: root, stdio: [0, 2, 2], env });
  if (r.status !== 0) fail('npm ci failed (see above). Check the network access to the npm registry and try again.');
  writeFileSync(stampFile, wanted + '\n');
  say(`dependencies installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv.includes('--test')) {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    if (process.platform !== 'linux' || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
      fail(`The browser tests need Chromium at ${chromium}. Install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH.`);
    }
    say('installing Chromium for the browser tests (apt-get install chromium)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-q'], { stdio: [0, 2, 2], env });
    const install = update.status === 0 && spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], { stdio: [0, 2, 2], env });
    if (!install || install.status !== 0 || !existsSync(chromium)) fail('apt-get could not install chromium (see above).');
  }
  // The GPU lane runs WebGPU on chromium's SwiftShader Vulkan driver, through the system's Vulkan loader.
  if (process.platform === 'linux' && !hasVulkanLoader()) {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
      fail('The GPU tests need the Vulkan loader (libvulkan.so.1). Install it (Debian/Ubuntu: apt-get install libvulkan1).');
    }
    say('installing the Vulkan loader for the GPU tests (apt-get install libvulkan1)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'libvulkan1'], { stdio: [0, 2, 2], env });
    if (install.status !== 0 && spawnSync('apt-get', ['update', '-q'], { stdio: [0, 2, 2], env }).status === 0) {
      install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'libvulkan1'], { stdio: [0, 2, 2], env });
    }
    if (install.status !== 0 || !hasVulkanLoader()) fail('apt-get could not install libvulkan1 (see above).');
  }
}

/** Whether the dynamic linker finds libvulkan.so.1. */
function hasVulkanLoader() {
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  if (r.status === 0) return /\blibvulkan\.so\.1\b/.test(r.stdout);
  return ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(`${d}/libvulkan.so.1`));
}
