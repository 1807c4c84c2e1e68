import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start whole jobs on a 2-core machine: one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    alias: { tsmpi: new URL('./src/index.ts', import.meta.url).pathname },
  },
});
