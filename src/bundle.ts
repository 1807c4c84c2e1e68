/**
 * What the runtime bundle (`dist/runtime/tsmpi.cjs`) exports: the package's
 * entry points in one CommonJS file, so that it loads through V8's code cache
 * (code-cache.ts). The ES modules `tsmpi`, `tsmpi/pool` and `tsmpi/preload`
 * re-export from it (scripts/bundle-runtime.mjs writes them).
 */
export * from './index.js';
export * as __pool from './pool.js';
export { prepare as __prepare } from './runtime.js';
