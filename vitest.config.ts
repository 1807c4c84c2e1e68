import { defineConfig } from 'vitest/config';

const alias = { tsmpi: new URL('./src/index.ts', import.meta.url).pathname };

export default defineConfig({
  test: {
    // Integration tests start whole jobs on a 2-core machine: one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    setupFiles: ['test/setup/shm-leftovers.ts'],
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'], alias } },
      {
        // The same reduction and collective suites once more on the TypeScript kernels.
        extends: true,
        test: {
          name: 'typescript-kernels',
          include: ['test/unit/ops.test.ts', 'test/unit/collectives.test.ts', 'test/unit/native.test.ts'],
          env: { TSMPI_NATIVE: '0' },
          alias,
        },
      },
      {
        // Whole jobs once more with every byte over mutual-TLS gRPC (no shared memory between ranks of a host).
        extends: true,
        test: { name: 'grpc-transport', include: ['test/integration/jobs.test.ts'], env: { TSMPI_TRANSPORT: 'grpc' }, alias },
      },
    ],
  },
});
