// The OSU-style suite: tsmpi against raw node:tls mutual TLS 1.3, plain
// grpc-js and, when installed, Open MPI over TCP on loopback, in one run.
//   npm run bench               full suite (minutes); writes bench/results.json and bench/chart.svg
//   npm run bench -- --quick    smoke test: small sizes, few iterations (CI)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { formatBytes, median, type Row } from './common.js';

const quick = process.argv.includes('--quick');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const CLI = path.join(ROOT, 'dist', 'launcher', 'cli.js');
const say = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function parseRows(stdout: string): Row[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
}

function run(label: string, command: string, args: string[], limitMs = 1_200_000): Row[] {
  say(`${label} ...`);
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: limitMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return parseRows(r.stdout);
}

const flag = quick ? ['--quick'] : [];
const rows: Row[] = [];
rows.push(...run('raw node:tls mTLS 1.3', process.execPath, ['--import', 'tsx', path.join(HERE, 'raw-tls.ts'), ...flag]));
rows.push(...run('plain grpc-js stream', process.execPath, ['--import', 'tsx', path.join(HERE, 'grpc-baseline.ts'), ...flag]));
rows.push(...run('tsmpi p2p (np 2)', process.execPath, [CLI, '-n', '2', path.join(HERE, 'osu.ts'), 'p2p', ...flag]));
for (const np of [2, 4]) rows.push(...run(`tsmpi collectives (np ${np})`, process.execPath, [CLI, '-n', String(np), path.join(HERE, 'osu.ts'), 'collectives', ...flag]));

const mpicc = spawnSync('mpicc', ['--version'], { encoding: 'utf8' });
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
let openmpi = 'not measured';
if (mpicc.status === 0 && mpirun.status === 0) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-osu-'));
  const exe = path.join(dir, 'osu');
  const built = spawnSync('mpicc', ['-O2', '-o', exe, path.join(HERE, 'osu.c')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`mpicc failed: ${built.stderr}`);
  openmpi = (mpirun.stdout.split('\n')[0] ?? '').trim();
  const mpi = (np: number, what: string): string[] => [
    '--allow-run-as-root',
    '--oversubscribe',
    '-np',
    String(np),
    '--mca',
    'btl',
    'tcp,self',
    '--mca',
    'btl_tcp_if_include',
    'lo',
    exe,
    what,
    ...flag,
  ];
  rows.push(...run('Open MPI p2p (np 2)', 'mpirun', mpi(2, 'p2p')));
  for (const np of [2, 4]) rows.push(...run(`Open MPI collectives (np ${np})`, 'mpirun', mpi(np, 'collectives')));
} else {
  say('Open MPI baseline skipped: mpicc/mpirun are not installed (apt-get install openmpi-bin libopenmpi-dev)');
}

// Start-up: wall time of `tsmpirun -n 4 examples/hello.ts`, median of several runs.
const startups: number[] = [];
for (let i = 0; i < (quick ? 1 : 5); i++) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, '-n', '4', path.join(ROOT, 'examples', 'hello.ts')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`hello failed: ${r.stderr}`);
  startups.push(Number(process.hrtime.bigint() - t) / 1e9);
}

// One table: a row per (test, np, size), ratio columns against the baselines of this run.
const key = (r: Row): string => `${r.test}|${r.np}|${r.bytes}`;
const by = new Map<string, Partial<Record<Row['stack'], Row>>>();
for (const r of rows) by.set(key(r), { ...by.get(key(r)), [r.stack]: r });
const order = ['latency', 'bw', 'bibw', 'bcast', 'scatter', 'gather', 'allgather', 'allreduce', 'reduce_scatter', 'alltoall'];
const lines = [...by.values()]
  .map((v) => (v.tsmpi ?? v['raw-tls'] ?? v.openmpi) as Row)
  .sort((a, b) => order.indexOf(a.test) - order.indexOf(b.test) || a.np - b.np || a.bytes - b.bytes)
  .map((r) => {
    const v = by.get(key(r)) ?? {};
    const fmt = (x: Row | undefined): string => (x ? (x.value >= 100 ? x.value.toFixed(0) : x.value.toFixed(1)) : '–');
    const ratio = (b: Row | undefined): string => (v.tsmpi && b ? (v.tsmpi.value / b.value).toFixed(2) : '–');
    return [r.test, String(r.np), formatBytes(r.bytes), r.unit, fmt(v.tsmpi), fmt(v['raw-tls']), fmt(v['grpc-js']), fmt(v.openmpi), ratio(v['raw-tls']), ratio(v['grpc-js']), ratio(v.openmpi)];
  });
const head = ['test', 'np', 'size', 'unit', 'tsmpi', 'raw TLS', 'grpc-js', 'Open MPI', 'tsmpi ÷ raw TLS', 'tsmpi ÷ grpc-js', 'tsmpi ÷ Open MPI'];
const table = new Table({ head, style: { head: [], border: [] } });
for (const l of lines) table.push(l);

const find = (stack: Row['stack'], test: string, np: number, bytes: number): number | undefined =>
  rows.find((r) => r.stack === stack && r.test === test && r.np === np && r.bytes === bytes)?.value;
const ratioOf = (test: string, np: number, bytes: number, base: Row['stack']): string => {
  const a = find('tsmpi', test, np, bytes);
  const b = find(base, test, np, bytes);
  return a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : 'not measured';
};
const ratioOfBases = (test: string, bytes: number): string => {
  const a = find('grpc-js', test, 2, bytes);
  const b = find('raw-tls', test, 2, bytes);
  return a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : 'not measured';
};
const summary = [
  `point-to-point bandwidth, 4 MiB messages: ${ratioOf('bw', 2, 4 << 20, 'raw-tls')} raw mTLS (target >= 0.8); plain grpc-js carries ${ratioOfBases('bw', 4 << 20)} raw mTLS, tsmpi ${ratioOf('bw', 2, 4 << 20, 'grpc-js')} grpc-js`,
  `8-byte one-way latency: ${ratioOf('latency', 2, 8, 'raw-tls')} raw mTLS (target <= 1.4)`,
  `allreduce float32 16 MiB: ${ratioOf('allreduce', 2, 16 << 20, 'openmpi')} Open MPI's time at np 2 (target <= 3), ${ratioOf('allreduce', 4, 16 << 20, 'openmpi')} at np 4`,
  `tsmpirun -n 4 examples/hello.ts: ${median(startups).toFixed(2)} s wall, median of ${startups.length} (target <= 1.0)`,
];

const header = `${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Open MPI: ${openmpi}; medians`;
console.log(header);
console.log(table.toString());
console.log(summary.join('\n'));
if (!quick) {
  writeFileSync(path.join(HERE, 'results.json'), `${JSON.stringify({ header, summary, startups, rows }, null, 2)}\n`);
  const { renderChart } = await import('./chart.js');
  writeFileSync(path.join(HERE, 'chart.svg'), await renderChart(rows));
  say('wrote bench/results.json and bench/chart.svg');
}
