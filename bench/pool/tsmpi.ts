// Tasks per second of tsmpi/pool: empty tasks and 1 ms tasks, `map` with Python's
// default chunksize and with chunksize 1. Rank 0 prints one JSON row per case.
//   tsmpirun -n 4 bench/pool/tsmpi.ts [--quick]
import { finalize, init } from 'tsmpi';
import { openPool, task } from 'tsmpi/pool';

await init();
const quick = process.argv.includes('--quick');
const pool = await openPool();
if (pool) {
  const tasks = new URL('./tasks.mjs', import.meta.url);
  for (const [name, n] of [['empty', quick ? 2000 : 100_000], ['busy1ms', quick ? 300 : 3000]] as const) {
    for (const chunksize of [undefined, 1]) {
      const items = Array.from({ length: n }, (_, i) => i);
      await pool.map(task(tasks, name), items.slice(0, Math.min(n, 500)), chunksize ? { chunksize } : {}); // warm-up
      const t = performance.now();
      await pool.map(task(tasks, name), items, chunksize ? { chunksize } : {});
      const s = (performance.now() - t) / 1000;
      console.log(JSON.stringify({ stack: 'tsmpi', task: name, chunksize: chunksize ?? 'default', workers: pool.workers, tasksPerSecond: n / s }));
    }
  }
  await pool.close();
}
await finalize();
