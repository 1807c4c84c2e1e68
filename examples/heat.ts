// Steady-state heat on a square plate by Jacobi iteration, rows split over
// the ranks: halo rows are exchanged with sendrecv, convergence is an
// allreduce(MAX) of the largest change, row sums are gathered with gatherv
// and probe values broadcast from the ranks that own them.
//   npx --no -- tsmpirun -n 4 examples/heat.ts
import { finalize, init, MAX, PROC_NULL } from 'tsmpi';
import { MAX_ITERATIONS, N, TOLERANCE, newBlock, rowRange, rowSums, summary, sweep } from './heat-core.js';

const world = await init();
const [start, end] = rowRange(world.rank, world.size);
const rows = end - start;
const w = N + 2;
const up = world.rank === 0 ? PROC_NULL : world.rank - 1;
const down = world.rank === world.size - 1 ? PROC_NULL : world.rank + 1;
let block = newBlock(rows, world.rank === 0);
let next = newBlock(rows, world.rank === 0);

let change = Infinity;
let iterations = 0;
while (change > TOLERANCE && iterations < MAX_ITERATIONS) {
  // Halo exchange: send my first row up and receive my lower halo from below, then the reverse.
  if (rows > 0) {
    const fromBelow = await world.sendrecv<Float64Array>(block.subarray(w, 2 * w), up, { source: down, sendTag: 1, recvTag: 1 });
    if (fromBelow !== undefined) block.set(fromBelow, (rows + 1) * w);
    const fromAbove = await world.sendrecv<Float64Array>(block.subarray(rows * w, (rows + 1) * w), down, { source: up, sendTag: 2, recvTag: 2 });
    if (fromAbove !== undefined) block.set(fromAbove, 0);
  }
  const local = sweep(block, next, rows);
  next.set(block.subarray(0, w), 0); // halos carry over (the hot edge stays)
  next.set(block.subarray((rows + 1) * w), (rows + 1) * w);
  [block, next] = [next, block];
  change = await world.allreduce(local, { op: MAX });
  iterations++;
}

const sums = await world.gatherv(rowSums(block, rows), { root: 0 });
const probe = (row: number): Promise<number> => {
  const owner = Array.from({ length: world.size }, (_, r) => r).find((r) => rowRange(r, world.size)[0] <= row && row < rowRange(r, world.size)[1]) ?? 0;
  return world.bcast(world.rank === owner ? (block[(row - start + 1) * w + N / 2] as number) : undefined, { root: owner });
};
const probes = [await probe(N / 4), await probe(N / 2), await probe((3 * N) / 4)];
if (world.rank === 0) {
  console.log(`${world.size} ranks, ${N} x ${N} plate`);
  console.log(summary(iterations, change, sums!.data, probes));
}
await finalize();
