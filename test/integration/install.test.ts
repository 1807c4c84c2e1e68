// Installing tsmpi. The native addon is optional: an install without a working
// compiler still succeeds, and the runtime falls back to the TypeScript
// kernels, saying why. A packed tarball carries a prebuilt addon, so that a
// dependent project compiles nothing.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('falls back to the TypeScript kernels and to gRPC between ranks of a host, and tsmpirun --info says why', () => {
    const r = spawnSync(process.execPath, [path.join(dir, 'dist', 'bin', 'tsmpirun.js'), '--info'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/reductions: TypeScript kernels, because the native addon did not load/);
    expect(r.stdout).toMatch(/between ranks of one host: mutual-TLS gRPC, because the native addon did not load/);
  });

  it('reports the native kernels and their instruction set in the real install', () => {
    const r = spawnSync(process.execPath, [CLI, '--info'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toMatch(/reductions: native SIMD kernels \((avx512|avx2|sse2|neon|scalar)\)/);
    expect(r.stdout).toContain('between ranks of one host: shared memory (rings of 4194304 bytes per pair)');
    expect(r.stdout).toContain('between hosts: mutual-TLS 1.3 gRPC (@grpc/grpc-js)');
    const forced = spawnSync(process.execPath, [CLI, '--info', '--transport', 'grpc'], { encoding: 'utf8', timeout: 30_000 });
    expect(forced.stdout).toContain('between ranks of one host: mutual-TLS gRPC (--transport grpc)');
  });
});

describe('a dependent project', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-dependent-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs the packed tarball without compiling (the prebuilt addon loads), and runs a job with npx', () => {
    // Pack a copy, as `npm pack` does (prepack makes the prebuilt binary), without touching this checkout.
    const pkg = path.join(dir, 'pkg');
    for (const entry of ['package.json', 'binding.gyp', 'native', 'scripts', 'dist', 'src', 'proto', 'README.md', 'CHANGELOG.md']) cpSync(path.join(ROOT, entry), path.join(pkg, entry), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    const run = (command: string, args: string[], cwd: string): { status: number | null; out: string } => {
      const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
      return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    };
    const prebuild = run(process.execPath, ['scripts/prebuild.mjs'], pkg);
    expect(prebuild.status, prebuild.out).toBe(0);
    const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], pkg);
    expect(pack.status, pack.out).toBe(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();

    const project = path.join(dir, 'project');
    cpSync(path.join(ROOT, 'examples', 'hello.ts'), path.join(project, 'hello.ts'));
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'dependent', private: true, type: 'module' }));
    const install = run('npm', ['install', '--prefer-offline', '--foreground-scripts', path.join(dir, tarball!)], project);
    expect(install.status, install.out).toBe(0);
    expect(install.out).toContain('tsmpi: using the prebuilt native reduction addon');
    expect(install.out).not.toContain('compiling the native reduction addon');
    expect(existsSync(path.join(project, 'node_modules', 'tsmpi', 'build'))).toBe(false);

    const info = run('npx', ['--no', '--', 'tsmpirun', '--info'], project);
    expect(info.out).toMatch(/reductions: native SIMD kernels/);
    const job = run('npx', ['--no', '--', 'tsmpirun', '-n', '2', 'hello.ts'], project);
    expect(job.status, job.out).toBe(0);
    expect(job.out.match(/hello from rank \d of 2/g)).toHaveLength(2);
  });
});
