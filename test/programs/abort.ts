// Rank 1 aborts the job with code 9 while the others wait in a barrier.
import { abort, finalize, init } from 'tsmpi';

const world = await init();
if (world.rank === 1) await abort(9, 'rank 1 gives up');
await world.barrier();
await finalize();
