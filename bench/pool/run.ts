// The pool benchmark: tasks per second of tsmpi/pool on 4 ranks (3 workers)
// against piscina (node:worker_threads) with 3 threads and Python's
// multiprocessing.Pool with 3 processes, empty tasks and 1 ms busy tasks.
//   npm run bench:pool [-- --quick]      writes bench/pool/results.json
// Every measured process runs plain JavaScript (tsmpirun compiles tsmpi.ts; the
// tasks are a .mjs file) or Python; this driver only starts them.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';

const quick = process.argv.includes('--quick');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const WORKERS = 3;
const flag = quick ? ['--quick'] : [];

interface Row {
  stack: string;
  task: string;
  chunksize: number | string;
  workers: number;
  tasksPerSecond: number;
}

function run(label: string, command: string, args: string[]): Row[] {
  process.stderr.write(`bench: ${label} ...\n`);
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
}

const rows = [
  ...run('tsmpi/pool, tsmpirun -n 4', process.execPath, [path.join(ROOT, 'dist', 'bin', 'tsmpirun.js'), '-n', String(WORKERS + 1), path.join(HERE, 'tsmpi.ts'), ...flag]),
  ...run('piscina', process.execPath, [path.join(HERE, 'piscina.mjs'), String(WORKERS), ...flag]),
  ...(spawnSync('python3', ['--version']).status === 0 ? run('Python multiprocessing.Pool', 'python3', [path.join(HERE, 'mp_pool.py'), String(WORKERS), ...flag]) : []),
];
const find = (stack: string, task: string, chunksize: number | string): number | undefined =>
  rows.find((r) => r.stack === stack && r.task === task && r.chunksize === chunksize)?.tasksPerSecond;
const table = new Table({ head: ['task', 'chunksize', 'tsmpi', 'piscina', 'multiprocessing', 'tsmpi ÷ piscina', 'tsmpi ÷ multiprocessing'], style: { head: [], border: [] } });
const fmt = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(0));
const ratio = (a: number | undefined, b: number | undefined): string => (a !== undefined && b !== undefined ? (a / b).toFixed(2) : '–');
for (const task of ['empty', 'busy1ms']) {
  for (const chunksize of ['default', 1] as const) {
    const t = find('tsmpi', task, chunksize);
    // piscina has no chunks: its one row stands for both.
    const p = find('piscina', task, 1);
    const m = find('multiprocessing', task, chunksize);
    table.push([task, String(chunksize), fmt(t), fmt(p), fmt(m), ratio(t, p), ratio(t, m)]);
  }
}
console.log(`tasks per second, ${WORKERS} workers, ${new Date().toISOString().slice(0, 10)}, node ${process.version}`);
console.log(table.toString());
if (!quick) writeFileSync(path.join(HERE, 'results.json'), `${JSON.stringify(rows, null, 2)}\n`);
