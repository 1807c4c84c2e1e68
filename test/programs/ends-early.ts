// Rank 0 ends at once (finalized at exit). Rank 1 waits for a message from it
// (`recv` in argv) or every other rank waits for it in an allreduce (`allreduce`).
import { init } from 'tsmpi';

const world = await init();
if (world.rank !== 0) {
  if (process.argv[2] === 'recv' && world.rank === 1) await world.recv({ source: 0 });
  if (process.argv[2] === 'allreduce') await world.allreduce(world.rank);
}
