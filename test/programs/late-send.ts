// Rank 0 waits for a message that rank 1 sends after a few seconds (SIGUSR1 to tsmpirun meanwhile: the job goes on).
import { init, finalize } from 'tsmpi';

const world = await init();
if (world.rank === 0) {
  console.log('waiting');
  await world.recv({ source: 1, tag: 5 });
  console.log('received');
} else if (world.rank === 1) {
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await world.send('late', 0, { tag: 5 });
}
await finalize();
