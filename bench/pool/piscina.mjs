// The node:worker_threads baseline: piscina with as many threads as tsmpi has workers,
// one run() per task (piscina has no chunking). Prints one JSON row per case.
//   node bench/pool/piscina.mjs WORKERS [--quick]
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';

const workers = Number(process.argv[2] ?? 3);
const quick = process.argv.includes('--quick');
const pool = new Piscina({ filename: new URL('./tasks.mjs', import.meta.url).href, minThreads: workers, maxThreads: workers });
for (const [name, n] of [['empty', quick ? 2000 : 100_000], ['busy1ms', quick ? 300 : 3000]]) {
  const items = Array.from({ length: n }, (_, i) => i);
  await Promise.all(items.slice(0, 500).map((x) => pool.run(x, { name })));
  const t = performance.now();
  await Promise.all(items.map((x) => pool.run(x, { name })));
  const s = (performance.now() - t) / 1000;
  console.log(JSON.stringify({ stack: 'piscina', task: name, chunksize: 1, workers, tasksPerSecond: n / s }));
}
await pool.destroy();
