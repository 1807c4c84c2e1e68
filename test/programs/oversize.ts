// Rank 0 sends rank 1 a message above its limit (refused at the sender), then a small one.
import { finalize, init, MpiError } from 'tsmpi';

const world = await init();
if (world.rank === 0) {
  try {
    await world.send(new Uint8Array(200_000), 1);
  } catch (error) {
    console.log(`rank 0 caught ${(error as MpiError).code}: ${(error as Error).message}`);
  }
  await world.send(new Uint8Array(1000), 1);
} else {
  const got = await world.recv<Uint8Array>({ source: 0 });
  console.log(`rank 1 got ${got.length} bytes after it`);
}
await finalize();
