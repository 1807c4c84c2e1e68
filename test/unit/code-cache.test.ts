// The code-cache loader: a bundle loads with the cache the build wrote in another process, and never with a stale one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rankNodeFlags } from '../../launcher/ranks.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-code-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LOADER = path.join(PACKAGE_ROOT, 'dist', 'runtime', 'code-cache.js');

/** Runs `script` (an ES module that has `loadBundle`, `writeBundleCache` and `cacheUsed`) in a fresh Node with `flags`; returns its stdout. */
function node(script: string, flags: string[] = []): string {
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', `import { loadBundle, writeBundleCache, cacheUsed } from ${JSON.stringify(LOADER)};\n${script}`], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

describe('code cache', () => {
  const bundle = path.join(dir, 'b.cjs');
  const load = `const m = loadBundle(${JSON.stringify(bundle)}); console.log(JSON.stringify({ used: cacheUsed.get(${JSON.stringify(bundle)}), value: m.value, file: m.file, dynamic: await m.dynamic() }));`;

  it("loads a bundle with the cache another process wrote, as require() would (exports, __filename, import() of a package)", () => {
    writeFileSync(bundle, "exports.value = 'one'; exports.file = __filename; exports.dynamic = () => globalThis[Symbol.for('tsmpi.import')]('node:os').then((m) => typeof m.cpus);\n");
    node(`writeBundleCache(${JSON.stringify(bundle)});`);
    expect(readFileSync(`${bundle}.cache`).length).toBeGreaterThan(32);
    expect(JSON.parse(node(load))).toEqual({ used: true, value: 'one', file: bundle, dynamic: 'function' });
  });

  it('compiles from source when the bundle changed since its cache was written, even to a bundle of the same length', () => {
    const changed = readFileSync(bundle, 'utf8').replace("'one'", "'two'");
    writeFileSync(bundle, changed);
    expect(JSON.parse(node(load))).toMatchObject({ used: false, value: 'two' });
  });

  it('compiles from source when the cache is cut short or missing', () => {
    node(`writeBundleCache(${JSON.stringify(bundle)});`);
    writeFileSync(`${bundle}.cache`, readFileSync(`${bundle}.cache`).subarray(0, 40));
    expect(JSON.parse(node(load))).toMatchObject({ used: false, value: 'two' });
    rmSync(`${bundle}.cache`);
    expect(JSON.parse(node(load))).toMatchObject({ used: false, value: 'two' });
  });

  it("the built runtime loads with its cache in a process with a rank's flags, and the launcher with its cache in a plain one", () => {
    const runtime = path.join(PACKAGE_ROOT, 'dist', 'runtime', 'tsmpi.cjs');
    const launcher = path.join(PACKAGE_ROOT, 'dist', 'bin', 'tsmpirun.cjs');
    expect(node(`await import(${JSON.stringify(path.join(PACKAGE_ROOT, 'dist', 'runtime', 'index.js'))}); console.log(cacheUsed.get(${JSON.stringify(runtime)}));`, rankNodeFlags({}))).toBe('true');
    expect(node(`loadBundle(${JSON.stringify(launcher)}); console.log(cacheUsed.get(${JSON.stringify(launcher)}));`)).toBe('true');
  });
});
