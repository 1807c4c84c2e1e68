// The manager-only shape (startPool): everything after the call runs on the root alone.
import { finalize, init } from 'tsmpi';
import { startPool, task } from 'tsmpi/pool';
import { check } from './check.js';

const world = await init();
const pool = await startPool();
check(world.rank, 'only the root gets here', world.rank, 0);
check(world.rank, 'squares', await pool.map(task(new URL('./pool-tasks.ts', import.meta.url), 'square'), [1, 2, 3]), [1, 4, 9]);
console.log('ok manager only');
await pool.close();
await finalize();
