// Bundles tsmpi's processes into a few files each, so that a process starts
// by reading one file tree instead of hundreds of modules (start-up in
// bench/README.md): what a rank loads (the runtime and the packages it uses:
// grpc-js, protobufjs, PKI.js, ...) into dist/runtime/, where the
// package's exports point; the launcher and the host agent into dist/bin/,
// where its commands point. tsc's output in dist/src/ and dist/launcher/ keeps
// the declarations. Run by `npm run build`, after tsc.
//
// The runtime (dist/runtime/tsmpi.cjs) and the launcher
// (dist/bin/tsmpirun.cjs) are CommonJS files loaded through V8's code cache
// (src/code-cache.ts), which this script writes next to each from a process
// started with the V8 flags its processes run with. The package's ES modules
// (index.js, pool.js, preload.js) re-export the runtime's exports by name;
// dist/bin/tsmpirun.js loads the launcher and runs it.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { rankNodeFlags } from '../dist/launcher/ranks.js';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  legalComments: 'external',
  logLevel: 'warning',
};

// A CommonJS bundle of the ES modules tsc wrote: `import.meta.url` is the bundle's own URL.
const commonjs = {
  ...common,
  format: 'cjs',
  define: { 'import.meta.url': '__tsmpiModuleUrl' },
  banner: { js: "const __tsmpiModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

for (const dir of ['dist/runtime', 'dist/bin']) rmSync(dir, { recursive: true, force: true });

await Promise.all([
  // tsx loads a pool's TypeScript task modules, when there are any: it stays a package.
  build({ ...commonjs, entryPoints: ['dist/src/bundle.js'], outfile: 'dist/runtime/tsmpi.cjs', external: ['tsx'] }),
  // esbuild finds its own binary from its package folder, so it stays a package.
  build({ ...commonjs, entryPoints: ['dist/launcher/cli.js'], outfile: 'dist/bin/tsmpirun.cjs', external: ['esbuild', 'tsx'] }),
  // The loader of both: Node's modules only.
  build({ ...common, entryPoints: ['dist/src/code-cache.js'], outfile: 'dist/runtime/code-cache.js', format: 'esm' }),
  // The host agent starts once per host: an ES module is fast enough.
  build({
    ...common,
    entryPoints: ['dist/launcher/agent.js'],
    outfile: 'dist/bin/agent.js',
    format: 'esm',
    external: ['esbuild', 'tsx'],
    // CommonJS packages in the bundle call require() for Node's modules.
    banner: { js: "import { createRequire as __tsmpiCreateRequire } from 'node:module'; const require = __tsmpiCreateRequire(import.meta.url);" },
  }),
]);

/** Loads `bundle` in a process started with `flags`, writes its code cache, and returns the names that `names` (a JS expression of `all`, its exports) lists. */
function writeCache(bundle, flags, names = '[]') {
  const script = `import { writeBundleCache } from './dist/runtime/code-cache.js';
    const all = writeBundleCache(process.cwd() + '/${bundle}');
    console.log(JSON.stringify(${names}));`;
  return JSON.parse(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

// A rank's flags (launcher/ranks.ts, by default); the launcher runs with none.
const names = writeCache('dist/runtime/tsmpi.cjs', rankNodeFlags({}), "{ index: Object.keys(all).filter((k) => !k.startsWith('__')), pool: Object.keys(all.__pool) }");
writeCache('dist/bin/tsmpirun.cjs', []);

const generated = '// Written by scripts/bundle-runtime.mjs';
const reexport = (from, list) => `export const {\n${list.map((n) => `  ${n},\n`).join('')}} = ${from};\n`;
writeFileSync(
  'dist/runtime/load.js',
  `${generated}: the runtime, tsmpi.cjs (src/bundle.ts), through its code cache.\nimport { fileURLToPath } from 'node:url';\nimport { loadBundle } from './code-cache.js';\n\nexport const runtime = loadBundle(fileURLToPath(new URL('./tsmpi.cjs', import.meta.url)));\n`,
);
writeFileSync('dist/runtime/index.js', `${generated}: the exports of 'tsmpi' (src/index.ts).\nimport { runtime } from './load.js';\n\n${reexport('runtime', names.index)}`);
writeFileSync('dist/runtime/pool.js', `${generated}: the exports of 'tsmpi/pool' (src/pool.ts).\nimport { runtime } from './load.js';\n\n${reexport('runtime.__pool', names.pool)}`);
writeFileSync('dist/runtime/preload.js', `${generated}: 'tsmpi/preload' (src/preload.ts).\nimport { runtime } from './load.js';\n\nruntime.__prepare();\n`);
writeFileSync(
  'dist/bin/tsmpirun.js',
  `#!/usr/bin/env node\n${generated}: runs the launcher, tsmpirun.cjs (launcher/cli.ts), through its code cache.\nimport { fileURLToPath } from 'node:url';\nimport { loadBundle } from '../runtime/code-cache.js';\n\nloadBundle(fileURLToPath(new URL('./tsmpirun.cjs', import.meta.url))).run();\n`,
);
chmodSync('dist/bin/tsmpirun.js', 0o755);
