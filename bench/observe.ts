// What seeing inside a job costs: OSU-style p2p and collective rows
// (bench/osu.ts, a few sizes, full iteration counts) with diagnostics off, under `--trace`, and under
// `TSMPI_DEBUG=collective,p2p` (lines to a file), in alternating rounds; and,
// with TSMPI_BENCH_BASELINE_CLI=<another build's dist/bin/tsmpirun.js>, the
// build before the diagnostics existed, for "off costs nothing".
//   npm run bench:observe   (about 6 minutes)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'bin', 'tsmpirun.js');
const ROUNDS = Number(process.env.TSMPI_BENCH_ROUNDS ?? 3);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-observe-bench-'));

interface Mode {
  name: string;
  cli: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}
const modes: Mode[] = [
  { name: 'off', cli: CLI, args: [] },
  { name: '--trace', cli: CLI, args: ['--trace', path.join(tmp, 'trace.json')] },
  { name: 'TSMPI_DEBUG=collective,p2p', cli: CLI, args: [], env: { TSMPI_DEBUG: 'collective,p2p' } },
];
if (process.env.TSMPI_BENCH_BASELINE_CLI) modes.unshift({ name: 'before (baseline build)', cli: process.env.TSMPI_BENCH_BASELINE_CLI, args: [] });

const JOBS = [
  { np: 2, what: 'p2p', only: ['--sizes=8,65536,1048576'] },
  { np: 4, what: 'collectives', only: ['--sizes=8,65536', '--collectives=allreduce,bcast'] },
];

/** Metric name -> value, from one run of each job in `mode`. */
function measure(mode: Mode): Map<string, number> {
  const out = new Map<string, number>();
  // A build's own bench program: its `import 'tsmpi'` resolves to that build.
  const root = path.resolve(path.dirname(mode.cli), '..', '..');
  for (const job of JOBS) {
    const r = spawnSync(process.execPath, [mode.cli, '-n', String(job.np), ...mode.args, path.join(root, 'bench', 'osu.ts'), job.what, ...job.only], {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, ...mode.env },
      maxBuffer: 256 << 20,
    });
    if (r.status !== 0) throw new Error(`${mode.name} ${job.what}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const row = JSON.parse(line) as { test: string; bytes: number; value: number; unit: string; op?: string };
      out.set(`${row.test}${row.op ? ` ${row.op}` : ''} ${row.bytes} B (${row.unit}, np ${job.np})`, row.value);
    }
  }
  return out;
}

const samples = new Map<string, Map<string, number[]>>(modes.map((m) => [m.name, new Map()]));
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
    for (const [metric, value] of measure(mode)) {
      const list = samples.get(mode.name)!.get(metric) ?? [];
      list.push(value);
      samples.get(mode.name)!.set(metric, list);
    }
  }
  process.stderr.write(`round ${round + 1} of ${ROUNDS}\n`);
}
rmSync(tmp, { recursive: true, force: true });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const metrics = [...samples.get('off')!.keys()];
const results = metrics.map((metric) => ({ metric, values: Object.fromEntries(modes.map((m) => [m.name, median(samples.get(m.name)!.get(metric) ?? [NaN])])) as Record<string, number> }));
writeFileSync(path.join(ROOT, 'bench', 'observe-results.json'), `${JSON.stringify({ rounds: ROUNDS, date: new Date().toISOString(), results }, null, 2)}\n`);
const header = `| metric | ${modes.map((m) => m.name).join(' | ')} |`;
const rule = `| --- | ${modes.map(() => '---:').join(' | ')} |`;
const body = results.map(({ metric, values }) => {
  const off = values.off as number;
  const cell = (name: string): string => {
    const v = values[name] as number;
    return name === 'off' ? v.toPrecision(4) : `${v.toPrecision(4)} (${(v / off).toFixed(2)}×)`;
  };
  return `| ${metric} | ${modes.map((m) => cell(m.name)).join(' | ')} |`;
});
console.log([header, rule, ...body].join('\n'));
