// Bundles tsmpi's processes into a few ES modules each, so that a process
// starts by reading one file tree instead of hundreds of modules (start-up in
// bench/README.md): what a rank loads (the runtime and the packages it uses:
// grpc-js, protobufjs, PKI.js, ...) into dist/runtime/, where the
// package's exports point; the launcher and the host agent into dist/bin/,
// where its commands point. tsc's output in dist/src/ and dist/launcher/ keeps
// the declarations. Run by `npm run build`, after tsc.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  splitting: true, // shared chunks: e.g. the program's `import 'tsmpi'` and the preload share one runtime
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // CommonJS packages in the bundle call require() for Node's modules.
  banner: { js: "import { createRequire as __tsmpiCreateRequire } from 'node:module'; const require = __tsmpiCreateRequire(import.meta.url);" },
  chunkNames: 'chunk-[hash]',
  legalComments: 'external',
  logLevel: 'warning',
};

// Chunks are named by content hash: clear earlier builds' chunks.
for (const dir of ['dist/runtime', 'dist/bin']) rmSync(dir, { recursive: true, force: true });

await Promise.all([
  // tsx loads a pool's TypeScript task modules, when there are any: it stays a package.
  build({ ...common, entryPoints: { index: 'dist/src/index.js', preload: 'dist/src/preload.js', pool: 'dist/src/pool.js' }, outdir: 'dist/runtime', external: ['tsx'] }),
  // esbuild finds its own binary from its package folder, so it stays a package.
  build({ ...common, entryPoints: { tsmpirun: 'dist/launcher/cli.js', agent: 'dist/launcher/agent.js' }, outdir: 'dist/bin', external: ['esbuild', 'tsx'] }),
]);
