// Per-hour flight-delay statistics over 200k real flights (vega-datasets),
// computed by every rank on its shard and combined with collectives:
//   npx --no -- tsmpirun -n 4 examples/flights.ts
import { finalize, init, MAX, SUM } from 'tsmpi';
import { formatTable, loadFlights, partialStats } from './flights-stats.js';

const world = await init();

// Rank 0 reads the data and scatters one contiguous shard of each column per rank.
const flights = world.rank === 0 ? await loadFlights() : undefined;
const n = flights?.delay.length ?? 0;
const counts = Array.from({ length: world.size }, (_, r) => Math.floor(((r + 1) * n) / world.size) - Math.floor((r * n) / world.size));
// Typed arrays travel as raw bytes and arrive as the same type.
const delay = await world.scatterv(flights?.delay, world.rank === 0 ? counts : undefined, { root: 0 });
const hour = await world.scatterv(flights?.hour, world.rank === 0 ? counts : undefined, { root: 0 });
const mine = partialStats({ delay, hour });

const sums = await world.allreduce(mine.sums, { op: SUM });
const maxDelay = await world.allreduce(mine.maxDelay, { op: MAX });
const perRank = await world.gather(delay.length, { root: 0 });

if (world.rank === 0) {
  console.log(`flights per rank: ${perRank?.join(', ')}`);
  console.log(formatTable(sums, maxDelay));
}
await finalize();
