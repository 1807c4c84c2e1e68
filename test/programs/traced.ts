// A job for --trace: a ring of sends and receives (overlapping), a ping-pong, and collectives.
import { init, finalize } from 'tsmpi';

const world = await init();
const { rank, size } = world;
const right = (rank + 1) % size;
const left = (rank + size - 1) % size;
// Nonblocking: the send and the receive are in progress at once.
await Promise.all([world.send(new Float64Array(1024).fill(rank), right, { tag: 1 }), world.recv({ source: left, tag: 1 })]);
if (rank === 0) {
  await world.send('ping', 1, { tag: 2 });
  await world.recv({ source: 1, tag: 3 });
} else if (rank === 1) {
  await world.recv({ source: 0, tag: 2 });
  await world.send('pong', 0, { tag: 3 });
}
await world.bcast(rank === 0 ? new Float32Array(4096) : undefined, { root: 0 });
await world.allreduce(new Float64Array(65536).fill(1));
await world.barrier();
await finalize();
