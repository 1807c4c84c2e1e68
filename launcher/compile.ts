/**
 * Compiles a TypeScript program once per job, in the launcher, so that the
 * ranks start it with plain Node instead of each loading a TypeScript loader
 * (tsx's hooks thread cost ~0.1 s of CPU per rank, plus a round trip to it
 * for every module the program imports: a third of a 4-rank hello job's
 * start-up on two cores).
 *
 * esbuild bundles the program's own modules into one ES module in a private
 * temporary folder; packages stay outside it, imported by the absolute URL of
 * the file Node's resolution picks for them from the program. Each module keeps its own `import.meta.url`, `import.meta.filename` and
 * `import.meta.dirname`, `process.argv[1]` names the program, and source maps
 * point stack traces at the TypeScript lines.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

/** A compiled program; `dispose()` removes it. */
export interface CompiledProgram {
  /** The bundle to run instead of the program. */
  file: string;
  /** The package files the bundle imports by absolute path: they must exist on every host of the job. */
  packages: string[];
  dispose(): Promise<void>;
}

const SOURCE_RE = /\.[cm]?[jt]sx?$/;

function loaderFor(file: string): esbuild.Loader {
  if (file.endsWith('x')) return file.endsWith('.tsx') ? 'tsx' : 'jsx';
  return /\.[cm]?ts$/.test(file) ? 'ts' : 'js';
}

/**
 * Keeps packages out of the bundle, imported by absolute URL (the file Node
 * itself would load), and gives every bundled module its own `import.meta`.
 */
function programPlugin(packages: Set<string>): esbuild.Plugin {
  return {
    name: 'tsmpi-program',
    setup(build) {
      const again = Symbol('resolving');
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === again || path.isAbsolute(args.path)) return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: again });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        packages.add(resolved.path);
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
      build.onLoad({ filter: SOURCE_RE }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const { code } = await esbuild.transform(source, {
          loader: loaderFor(args.path),
          format: 'esm',
          target: 'node20',
          sourcefile: args.path,
          sourcemap: 'inline',
          define: {
            'import.meta.url': JSON.stringify(pathToFileURL(args.path).href),
            'import.meta.filename': JSON.stringify(args.path),
            'import.meta.dirname': JSON.stringify(path.dirname(args.path)),
          },
        });
        return { contents: code, loader: 'js', resolveDir: path.dirname(args.path) };
      });
    },
  };
}

/**
 * Bundles `program` (a `.ts`/`.mts`/`.tsx` file) into a private temporary folder.
 * Rejects with esbuild's error (file and line) when the program does not compile.
 */
export async function compileProgram(program: string): Promise<CompiledProgram> {
  const source = path.resolve(program);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsmpi-program-'));
  const file = path.join(dir, `${path.basename(source).replace(/\.[^.]+$/, '')}.mjs`);
  const packages = new Set<string>();
  try {
    await esbuild.build({
      entryPoints: [source],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      // Resolve packages as Node does: `main` and `exports` conditions
      // import/require/node/default; tsconfig.json `paths` are for type-checking only.
      mainFields: ['main'],
      conditions: [],
      tsconfigRaw: '{}',
      plugins: [programPlugin(packages)],
      banner: { js: `process.argv[1] = ${JSON.stringify(source)};` },
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    // esbuild's service process is not needed once the bundle is written (left running, it outlives the launcher as a zombie).
    await esbuild.stop();
  }
  return { file, packages: [...packages], dispose: () => rm(dir, { recursive: true, force: true }) };
}
