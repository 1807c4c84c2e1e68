// The benchmarks' quick modes run in CI as smoke tests: they must run and produce
// their tables; no timing is asserted.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/tsmpirun.js';

describe('benchmarks (smoke, quick mode)', () => {
  it('bench:reduce measures native, TypeScript and memcpy throughput', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/reduce.ts', '--quick', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { rows: Array<Record<string, number | string>> };
    expect(report.rows).toHaveLength(2 * 3 * 2);
    for (const row of report.rows) expect(row['native GB/s']).toBeGreaterThan(0);
  });
});
