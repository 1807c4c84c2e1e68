// The benchmarks' quick modes run in CI as smoke tests: they must run and produce
// their tables; no timing is asserted.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/tsmpirun.js';

describe('benchmarks (smoke, quick mode)', () => {
  it('the OSU-style suite runs every stack it can and prints its table and summary', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    // tsmpi (shared memory), tsmpi --transport grpc, raw TLS and plain grpc-js columns
    expect(r.stdout).toMatch(/│ latency +│ 2 +│ 8 B +│ us +│ [\d.]+ +│ [\d.]+ +│ [\d.]+ +│ [\d.]+ /);
    expect(r.stdout).toMatch(/│ bw +│ 2 +│ 1 MiB +│ MB\/s +│ [\d.]+ +│ [\d.]+ +│ [\d.]+ +│ [\d.]+ /);
    expect(r.stdout).toMatch(/│ allreduce +│ 4 +│ 64 KiB/);
    expect(r.stdout).toContain('same host, 8-byte one-way latency:');
    expect(r.stdout).toContain('network path (--transport grpc), bandwidth');
    if (!/Open MPI: Open MPI|mpirun \(Open MPI\)/.test(r.stdout)) expect(r.stderr).toContain('Open MPI baselines skipped');
  });

  it('the soak passes a ring of checked messages without losing one (quick mode)', () => {
    const r = spawnSync(process.execPath, ['dist/bin/tsmpirun.js', '-n', '4', 'bench/soak.ts', '--quick'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toContain('soak: every word checked: nothing lost or damaged');
    expect(r.stdout).toMatch(/soak: RSS, the largest rank: \d+ MiB in the first half/);
  });

  it('bench:reduce measures native, TypeScript and memcpy throughput', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/reduce.ts', '--quick', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { rows: Array<Record<string, number | string>> };
    expect(report.rows).toHaveLength(2 * 3 * 2);
    for (const row of report.rows) expect(row['native GB/s']).toBeGreaterThan(0);
  });
});
