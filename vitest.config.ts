import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.spec.ts', 'src/**/*.spec.tsx', 'workers/**/*.spec.ts', 'cli/**/*.spec.ts', 'test/unit/**/*.spec.ts'],
          environment: 'node',
          // The spawned-CLI tests run the bundle: make it current first.
          globalSetup: ['test/setup/build-cli.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'runtime',
          include: ['test/runtime/**/*.spec.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // llama.cpp gets one thread per test file; keep the files in one worker at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.spec.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
