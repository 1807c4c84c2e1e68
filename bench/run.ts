// The OSU-style suite, in one run: tsmpi on its default paths (shared memory
// between the ranks of this host) and with `--transport grpc`, against raw
// node:tls mutual TLS 1.3, plain grpc-js at its best, and, when installed,
// Open MPI over TCP and over shared memory (vader).
//   npm run bench               full suite (minutes); writes bench/results.json and bench/chart.svg
//   npm run bench -- --quick    smoke test: small sizes, few iterations (CI)
// Every measured process runs plain JavaScript: the baselines are compiled
// with esbuild first, and tsmpirun compiles bench/osu.ts for its ranks.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { build } from 'esbuild';
import { formatBytes, median, type Row } from './common.js';
import { pairMaterial } from './material.js';

const quick = process.argv.includes('--quick');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const CLI = path.join(ROOT, 'dist', 'bin', 'tsmpirun.js');
const say = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function parseRows(stdout: string): Row[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
}

function run(label: string, command: string, args: string[], input?: string, limitMs = 1_200_000): Row[] {
  say(`${label} ...`);
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: limitMs, maxBuffer: 64 << 20, ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return parseRows(r.stdout);
}

// The two-process baselines as plain JavaScript, beside the sources so that packages resolve.
const out = path.join(HERE, '.build');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(HERE, 'raw-tls.ts'), path.join(HERE, 'grpc-baseline.ts')],
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});

const flag = quick ? ['--quick'] : [];
const rows: Row[] = [];
const retag = (stack: Row['stack'], list: Row[]): Row[] => list.map((r) => ({ ...r, stack }));
// Certificates for the baselines are made here, so that no measured process loads tsmpi's PKI.
const material = JSON.stringify(await pairMaterial());
// The point-to-point runs of every stack, round-robin: this machine's speed
// drifts by tens of percent within minutes, so each p2p row is the median of
// P2P_ROUNDS runs taken in turn with the other stacks'.
const P2P_ROUNDS = quick ? 1 : 3;
const p2p: Array<() => Row[]> = [
  () => run('raw node:tls mTLS 1.3', process.execPath, ['--tls-min-v1.3', path.join(out, 'raw-tls.mjs'), ...flag], material),
  () => run('plain grpc-js stream', process.execPath, ['--tls-min-v1.3', path.join(out, 'grpc-baseline.mjs'), ...flag], material),
];
const osu = (transport: string, np: number, what: string): string[] => [CLI, '--transport', transport, '-n', String(np), path.join(HERE, 'osu.ts'), what, ...flag];
const TSMPI_STACKS = [['tsmpi', 'auto'], ['tsmpi-grpc', 'grpc']] as const;
for (const [stack, transport] of TSMPI_STACKS) p2p.push(() => retag(stack, run(`tsmpi p2p (np 2, --transport ${transport})`, process.execPath, osu(transport, 2, 'p2p'))));

const collectiveRuns: Array<() => Row[]> = TSMPI_STACKS.map(
  ([stack, transport]) =>
    () =>
      [2, 4].flatMap((np) => retag(stack, run(`tsmpi collectives (np ${np}, --transport ${transport})`, process.execPath, osu(transport, np, 'collectives')))),
);

const mpicc = spawnSync('mpicc', ['--version'], { encoding: 'utf8' });
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
let openmpi = 'not measured';
let mpiHello: string[] | undefined;
if (mpicc.status === 0 && mpirun.status === 0) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-osu-'));
  for (const name of ['osu', 'hello']) {
    const built = spawnSync('mpicc', ['-O2', '-o', path.join(dir, name), path.join(HERE, `${name}.c`)], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`mpicc failed: ${built.stderr}`);
  }
  openmpi = (mpirun.stdout.split('\n')[0] ?? '').trim();
  const base = (np: number): string[] => ['--allow-run-as-root', '--oversubscribe', '-np', String(np)];
  const tcp = ['--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', 'lo'];
  const shm = ['--mca', 'btl', 'self,vader'];
  for (const [stack, btl] of [['openmpi', tcp], ['openmpi-shm', shm]] as const) {
    const mpi = (np: number, what: string): string[] => [...base(np), ...btl, path.join(dir, 'osu'), what, ...flag];
    const name = stack === 'openmpi' ? 'TCP' : 'vader';
    p2p.push(() => retag(stack, run(`Open MPI p2p (np 2, ${name})`, 'mpirun', mpi(2, 'p2p'))));
    collectiveRuns.push(() => [2, 4].flatMap((np) => retag(stack, run(`Open MPI collectives (np ${np}, ${name})`, 'mpirun', mpi(np, 'collectives')))));
  }
  mpiHello = [...base(4), path.join(dir, 'hello')];
} else {
  say('Open MPI baselines skipped: mpicc/mpirun are not installed (apt-get install openmpi-bin libopenmpi-dev)');
}

const rounds: Row[] = [];
for (let round = 1; round <= P2P_ROUNDS; round++) {
  if (P2P_ROUNDS > 1) say(`point-to-point, round ${round} of ${P2P_ROUNDS}`);
  for (const measure of p2p) rounds.push(...measure());
}
const sampled = new Map<string, Row[]>();
for (const r of rounds) {
  const k = `${r.stack}|${r.test}|${r.np}|${r.bytes}`;
  const samples = sampled.get(k);
  if (samples === undefined) sampled.set(k, [r]);
  else samples.push(r);
}
for (const samples of sampled.values()) rows.push({ ...(samples[0] as Row), value: median(samples.map((r) => r.value)) });
for (const measure of collectiveRuns) rows.push(...measure());

// Start-up: `tsmpirun -n 4 examples/hello.ts` and, paired with it, `mpirun -n 4` of the C hello.
const wall = (command: string, args: string[]): number => {
  const t = process.hrtime.bigint();
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
};
say('start-up, paired runs ...');
const startups: number[] = [];
const mpiStartups: number[] = [];
for (let i = 0; i < (quick ? 1 : 7); i++) {
  startups.push(wall(process.execPath, [CLI, '-n', '4', path.join(ROOT, 'examples', 'hello.ts')]));
  if (mpiHello) mpiStartups.push(wall('mpirun', mpiHello));
}

// One table: a row per (test, np, size), ratio columns against the baselines of this run.
const key = (r: Row): string => `${r.test}|${r.np}|${r.bytes}`;
const by = new Map<string, Partial<Record<Row['stack'], Row>>>();
for (const r of rows) by.set(key(r), { ...by.get(key(r)), [r.stack]: r });
const order = ['latency', 'bw', 'bibw', 'bcast', 'scatter', 'gather', 'allgather', 'allreduce', 'reduce_scatter', 'alltoall'];
const STACKS: Array<[Row['stack'], string]> = [
  ['tsmpi', 'tsmpi'],
  ['tsmpi-grpc', 'tsmpi grpc'],
  ['raw-tls', 'raw TLS'],
  ['grpc-js', 'grpc-js'],
  ['openmpi', 'OMPI TCP'],
  ['openmpi-shm', 'OMPI shm'],
];
const RATIOS: Array<[Row['stack'], Row['stack'], string]> = [
  ['tsmpi', 'openmpi-shm', 'tsmpi ÷ OMPI shm'],
  ['tsmpi', 'raw-tls', 'tsmpi ÷ raw TLS'],
  ['tsmpi', 'openmpi', 'tsmpi ÷ OMPI TCP'],
  ['tsmpi-grpc', 'grpc-js', 'grpc ÷ grpc-js'],
  ['tsmpi-grpc', 'raw-tls', 'grpc ÷ raw TLS'],
];
const lines = [...by.values()]
  .map((v) => Object.values(v)[0] as Row)
  .sort((a, b) => order.indexOf(a.test) - order.indexOf(b.test) || a.np - b.np || a.bytes - b.bytes)
  .map((r) => {
    const v = by.get(key(r)) ?? {};
    const fmt = (x: Row | undefined): string => (x ? (x.value >= 100 ? x.value.toFixed(0) : x.value.toFixed(1)) : '–');
    const ratio = (a: Row | undefined, b: Row | undefined): string => (a && b ? (a.value / b.value).toFixed(2) : '–');
    return [r.test, String(r.np), formatBytes(r.bytes), r.unit, ...STACKS.map(([s]) => fmt(v[s])), ...RATIOS.map(([a, b]) => ratio(v[a], v[b]))];
  });
const head = ['test', 'np', 'size', 'unit', ...STACKS.map(([, name]) => name), ...RATIOS.map(([, , name]) => name)];
const table = new Table({ head, style: { head: [], border: [] } });
for (const l of lines) table.push(l);

const find = (stack: Row['stack'], test: string, np: number, bytes: number): number | undefined =>
  rows.find((r) => r.stack === stack && r.test === test && r.np === np && r.bytes === bytes)?.value;
const ratio = (a: Row['stack'], b: Row['stack'], test: string, np: number, bytes: number): string => {
  const x = find(a, test, np, bytes);
  const y = find(b, test, np, bytes);
  return x !== undefined && y !== undefined ? `${(x / y).toFixed(2)}x` : 'not measured';
};
const MiB = 1 << 20;
const range = (a: Row['stack'], b: Row['stack']): string => [MiB, 4 * MiB, 16 * MiB, 64 * MiB].map((bytes) => ratio(a, b, 'bw', 2, bytes)).join(' / ');
const mpiMedian = mpiStartups.length > 0 ? median(mpiStartups) : undefined;
const summary = [
  `network path (--transport grpc), bandwidth 1 / 4 / 16 / 64 MiB: ${range('tsmpi-grpc', 'grpc-js')} plain grpc-js (target >= 0.9), ${range('tsmpi-grpc', 'raw-tls')} raw mTLS (target >= 0.7); plain grpc-js ${range('grpc-js', 'raw-tls')} raw mTLS`,
  `network path, 8-byte one-way latency: ${ratio('tsmpi-grpc', 'grpc-js', 'latency', 2, 8)} plain grpc-js (target <= 1.2)`,
  `same host (default), bandwidth 4 MiB: ${ratio('tsmpi', 'openmpi-shm', 'bw', 2, 4 * MiB)} Open MPI over shared memory (target >= 0.5)`,
  `same host, 8-byte one-way latency: ${ratio('tsmpi', 'raw-tls', 'latency', 2, 8)} raw mTLS ping-pong (target <= 0.3); ${ratio('tsmpi', 'openmpi-shm', 'latency', 2, 8)} Open MPI over shared memory`,
  `allreduce float32 16 MiB: ${ratio('tsmpi', 'openmpi', 'allreduce', 2, 16 * MiB)} Open MPI TCP's time at np 2 (target <= 2), ${ratio('tsmpi', 'openmpi', 'allreduce', 4, 16 * MiB)} at np 4; ${ratio('tsmpi', 'openmpi-shm', 'allreduce', 2, 16 * MiB)} / ${ratio('tsmpi', 'openmpi-shm', 'allreduce', 4, 16 * MiB)} Open MPI shm's`,
  `tsmpirun -n 4 examples/hello.ts: ${median(startups).toFixed(2)} s wall, median of ${startups.length}; ${mpiMedian === undefined ? 'mpirun not measured' : `mpirun -n 4 of a C hello ${mpiMedian.toFixed(2)} s in the same pairs: ${(median(startups) / mpiMedian).toFixed(2)}x (target <= 2)`}`,
];

const header = `${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Open MPI: ${openmpi}; medians`;
console.log(header);
console.log(table.toString());
console.log(summary.join('\n'));
if (!quick) {
  writeFileSync(path.join(HERE, 'results.json'), `${JSON.stringify({ header, summary, startups, mpiStartups, rows }, null, 2)}\n`);
  const { renderChart } = await import('./chart.js');
  writeFileSync(path.join(HERE, 'chart.svg'), await renderChart(rows));
  say('wrote bench/results.json and bench/chart.svg');
}
