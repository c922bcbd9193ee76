import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import SlowFirstSequencer from './tests/helpers/slow-first-sequencer.js';

export default defineConfig({
  plugins: [react()],
  test: {
    // Engine tests touch real services, mounts and ports; two cores here, keep it modest.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './tests/helpers/summary-reporter.ts'],
    // Builds the app once (its sources' hash names the folder) for the CLI and restore-driver processes the tests
    // start: plain JavaScript instead of tsx's loader in each process and worker thread (see the file).
    globalSetup: ['./tests/helpers/test-build.ts'],
    // Longest files first (a fresh CI machine has no vitest cache to order by): both workers end together.
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'engine',
          include: ['tests/engine/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['tests/helpers/state-dir-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'renderer',
          include: ['tests/renderer/**/*.test.tsx'],
          environment: 'jsdom',
          setupFiles: ['tests/renderer/setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          // Runs beside the engine files (one browser at a time is not needed: each file has its own server,
          // state dir, temp folders and free ports). fileParallelism: false would hold all of them back into a
          // last, single-worker stretch of ~380 s with the other core idle.
          // A browser test walks a whole backup and restore through the real engine (~90 s on a quiet 2-core
          // machine): room for a loaded CI machine without hiding a hang (each wait inside has its own bound).
          testTimeout: 300_000,
          setupFiles: ['tests/helpers/state-dir-setup.ts'],
        },
      },
    ],
  },
});
