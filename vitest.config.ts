import { defineConfig } from 'vitest/config';

// Two projects: `node` (unit and integration tests beside the code, run in
// parallel, each file with its own database) and `e2e` (real processes and a
// real Chromium, run one file at a time). Both share one embedded PostgreSQL
// cluster started by the global setup.
export default defineConfig({
  test: {
    globalSetup: ['./scripts/testing/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['{models,db,server,workers,scripts,web}/**/*.test.ts'],
          exclude: ['**/*.e2e.test.ts', '**/node_modules/**', 'web/dist/**'],
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
    ],
  },
});
