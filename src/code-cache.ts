/**
 * Loads a CommonJS bundle through V8's code cache (`vm.Script` `cachedData`),
 * so that a process that loads tsmpi does not parse and compile its 2 MB of
 * JavaScript again: Node 20 has no compile cache for ES modules
 * (`module.enableCompileCache` is Node 22), and ES modules cannot be given
 * cached data. `scripts/bundle-runtime.mjs` writes each bundle and, next to
 * it, `<bundle>.cache`: the SHA-256 of the bundle's bytes, then the data V8
 * made after loading it. A cache whose hash does not match, or that V8
 * rejects (another Node or V8 version, other V8 flags), is ignored and the
 * bundle is compiled from source.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { IMPORT_HOOK } from './dynamic-import.js';

const HASH_BYTES = 32;

/** Whether the last {@link loadBundle} of each file used its cache (for tests and `--info`). */
export const cacheUsed = new Map<string, boolean>();

function compile(file: string, source: Buffer, cachedData: Buffer | undefined): vm.Script {
  // CommonJS's module wrapper, as Node's loader gives it.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n})`;
  return new vm.Script(wrapped, {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
}

function run(script: vm.Script, file: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  const init = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  init.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}

function hashOf(source: Buffer): Buffer {
  return createHash('sha256').update(source).digest();
}

/**
 * Loads the CommonJS bundle `file` (an absolute path) once, as `require`
 * would, with its code cache when that is valid, and returns its exports.
 */
export function loadBundle(file: string): Record<string, unknown> {
  // The bundle's `import()` calls come here (see dynamic-import.ts).
  (globalThis as { [IMPORT_HOOK]?: (specifier: string) => Promise<unknown> })[IMPORT_HOOK] ??= (specifier) => import(specifier);
  const source = readFileSync(file);
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch {
    // No cache (a development build, or removed): compile from source.
  }
  const valid = cache !== undefined && cache.length > HASH_BYTES && hashOf(source).equals(cache.subarray(0, HASH_BYTES));
  const script = compile(file, source, valid ? cache?.subarray(HASH_BYTES) : undefined);
  cacheUsed.set(file, valid && script.cachedDataRejected === false);
  return run(script, file);
}

/**
 * Loads the bundle `file` from source, then writes `<file>.cache` with what
 * V8 compiled while loading it; returns the bundle's exports. Run by the
 * build in a process of its own, started with the flags the bundle's
 * processes run with.
 */
export function writeBundleCache(file: string): Record<string, unknown> {
  const source = readFileSync(file);
  const script = compile(file, source, undefined);
  const exports = run(script, file);
  writeFileSync(`${file}.cache`, Buffer.concat([hashOf(source), script.createCachedData()]));
  return exports;
}
