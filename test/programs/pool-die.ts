// A pool whose worker on world rank 2 exits on its first task. Without
// --enable-recovery the job ends; with it, that worker's items are tried
// once more on the others and the map completes.
import { finalize, init } from 'tsmpi';
import { openPool, task } from 'tsmpi/pool';
import { check } from './check.js';

const world = await init();
const pool = await openPool();
if (pool) {
  const items = Array.from({ length: 40 }, (_, i) => i);
  const results = await pool.map(task(new URL('./pool-tasks.ts', import.meta.url), 'exitOnRank2'), items, { chunksize: 1 });
  check(world.rank, 'every item, once', results, items);
  check(world.rank, 'the dead worker left the pool', pool.workers, world.size - 2);
  console.log('ok retried');
  await pool.close();
}
await finalize();
