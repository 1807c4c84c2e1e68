// Rank 2 throws an uncaught exception; the others wait in a barrier.
import { finalize, init } from 'tsmpi';

const world = await init();
if (world.rank === 2) throw new TypeError('boom from rank 2');
await world.barrier();
await finalize();
