// The native addon is optional: an install without a working compiler still
// succeeds, and the runtime falls back to the TypeScript kernels, saying why.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../helpers/tsmpirun.js';

describe('installing without a C++ compiler', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-install-'));
    for (const entry of ['package.json', 'binding.gyp', 'native', 'scripts', 'dist', 'proto']) cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('still succeeds, and says the TypeScript kernels will be used', () => {
    const r = spawnSync(process.execPath, ['scripts/build-native.mjs'], {
      cwd: dir,
      env: { ...process.env, CXX: '/bin/false', CC: '/bin/false' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('could not be built');
    expect(r.stderr).toContain('TypeScript kernels will be used');
    expect(existsSync(path.join(dir, 'build', 'Release', 'tsmpi_reduce.node'))).toBe(false);
  });

  it('falls back to the TypeScript kernels, and tsmpirun --info says why', () => {
    const r = spawnSync(process.execPath, [path.join(dir, 'dist', 'launcher', 'cli.js'), '--info'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/reductions: TypeScript kernels, because the native addon did not load/);
  });

  it('reports the native kernels and their instruction set in the real install', () => {
    const r = spawnSync(process.execPath, [CLI, '--info'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toMatch(/reductions: native SIMD kernels \((avx512|avx2|sse2|neon|scalar)\)/);
  });
});
