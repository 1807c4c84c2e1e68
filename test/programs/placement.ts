// Where each rank runs, as the runtime and the launcher say: its host, the
// TSMPI_COMM_WORLD_* variables, and its splitType('shared') communicator.
// With argv[2] = seconds, it then waits that long (for tests that look at it).
import { init, processorName } from 'tsmpi';

const world = await init();
const env = process.env;
const shared = await world.splitType('shared');
const peers = await shared.allgather(world.rank);
console.log(
  `rank ${world.rank} host ${processorName()} local ${env.TSMPI_COMM_WORLD_LOCAL_RANK}/${env.TSMPI_COMM_WORLD_LOCAL_SIZE} node ${env.TSMPI_COMM_WORLD_NODE_RANK} shared ${peers.join(',')} pid ${process.pid} hostOf0 ${world.hostOf(0)}`,
);
if (process.argv[2] !== undefined) await new Promise((resolve) => setTimeout(resolve, Number(process.argv[2]) * 1000));
await world.barrier();
