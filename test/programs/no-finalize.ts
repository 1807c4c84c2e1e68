// Rank 1 leaves with status 0 but without finalize(); rank 0 waits for it in a barrier.
import { finalize, init } from 'tsmpi';

const world = await init();
if (world.rank === 1) process.exit(0);
await world.barrier();
await finalize();
