// A pool whose worker 2 exits in the middle of a map: the job must end, naming it.
import { finalize, init } from 'tsmpi';
import { openPool, task } from 'tsmpi/pool';

await init();
const pool = await openPool();
if (pool) {
  await pool.map(task(new URL('./pool-tasks.ts', import.meta.url), 'exitOnRank2'), Array.from({ length: 40 }, (_, i) => i), { chunksize: 1 });
  await pool.close();
}
await finalize();
