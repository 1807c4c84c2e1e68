// Per-hour flight-delay statistics over 200k real flights (vega-datasets),
// computed by every rank on its shard and combined with collectives:
//   npx tsmpirun -n 4 examples/flights.ts
import { finalize, init, MAX, SUM } from 'tsmpi';
import { formatTable, loadFlights, partialStats } from './flights-stats.js';

const world = await init();

// Rank 0 reads the data and cuts it into one contiguous shard per rank.
let delayShards: Int32Array[] | undefined;
let hourShards: Uint8Array[] | undefined;
if (world.rank === 0) {
  const flights = await loadFlights();
  const n = flights.delay.length;
  const bounds = Array.from({ length: world.size + 1 }, (_, r) => Math.floor((r * n) / world.size));
  delayShards = [];
  hourShards = [];
  for (let r = 0; r < world.size; r++) {
    delayShards.push(flights.delay.subarray(bounds[r], bounds[r + 1]));
    hourShards.push(flights.hour.subarray(bounds[r], bounds[r + 1]));
  }
}

// Typed arrays travel as raw bytes and arrive as the same type.
const delay = await world.scatter(delayShards, { root: 0 });
const hour = await world.scatter(hourShards, { root: 0 });
const mine = partialStats({ delay, hour });

const sums = await world.allreduce(mine.sums, { op: SUM });
const maxDelay = await world.allreduce(mine.maxDelay, { op: MAX });
const counts = await world.gather(delay.length, { root: 0 });

if (world.rank === 0) {
  console.log(`flights per rank: ${counts?.join(', ')}`);
  console.log(formatTable(sums, maxDelay));
}
await finalize();
