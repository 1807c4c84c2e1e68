// Passes a token around the ring 0 -> 1 -> ... -> size-1 -> 0; each rank adds its rank.
import { finalize, init } from 'tsmpi';

const world = await init();
const next = (world.rank + 1) % world.size;
const prev = (world.rank - 1 + world.size) % world.size;

if (world.rank === 0) {
  await world.send({ sum: 0, path: [0] }, next, { tag: 7 });
  const token = await world.recv<{ sum: number; path: number[] }>({ source: prev, tag: 7 });
  console.log(`ring of ${world.size}: sum of ranks = ${token.sum}, path = ${[...token.path, 0].join(' -> ')}`);
} else {
  const token = await world.recv<{ sum: number; path: number[] }>({ source: prev, tag: 7 });
  await world.send({ sum: token.sum + world.rank, path: [...token.path, world.rank] }, next, { tag: 7 });
}
await finalize();
