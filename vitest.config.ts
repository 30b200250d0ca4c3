import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/** Chromium's SwiftShader Vulkan driver: WebGPU without a GPU (Debian's chromium package ships it). */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The GPU lane's environment: a real GPU's driver when there is one (or the one VK_DRIVER_FILES names), else SwiftShader. */
const gpuEnv: Record<string, string> = {
  LOUPE_DEVICE: 'webgpu',
  XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
  ...(process.env.VK_DRIVER_FILES || existsSync('/dev/nvidia0') ? {} : { VK_DRIVER_FILES: SWIFTSHADER_ICD }),
};

// Three projects: `node` (unit and integration tests beside the code, run in
// parallel, each file with its own database), `e2e` (real processes and a
// real Chromium, run one file at a time) and `gpu` (`*.gpu.test.ts`: the GPU
// paths on WebGPU, on SwiftShader where there is no GPU, one file at a time:
// tiny shapes that prove results, not speed). All share one embedded
// PostgreSQL cluster started by the global setup.
export default defineConfig({
  test: {
    globalSetup: ['./scripts/testing/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['{models,db,server,workers,scripts,web}/**/*.test.ts'],
          exclude: ['**/*.e2e.test.ts', '**/*.gpu.test.ts', '**/node_modules/**', 'web/dist/**'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['{models,db,server,workers,scripts,web}/**/*.e2e.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          include: ['{models,db,server,workers,scripts,web}/**/*.gpu.test.ts'],
          environment: 'node',
          env: gpuEnv,
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
