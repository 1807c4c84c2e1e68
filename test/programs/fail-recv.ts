// Rank 1 dies (exit code 3) while rank 0 waits to receive from it.
import { finalize, init, PeerFailedError } from 'tsmpi';

const world = await init();
if (world.rank === 1) {
  await world.barrier();
  process.exit(3);
}
await world.barrier();
if (world.rank === 0) {
  try {
    await world.recv({ source: 1, tag: 5 });
    console.log('rank 0 received from a dead rank?!');
  } catch (error) {
    if (!(error instanceof PeerFailedError)) throw error;
    console.log(`rank 0 caught ${error.code} naming rank ${error.rank} on ${error.host} in ${error.op}`);
    process.exit(5);
  }
}
await finalize();
