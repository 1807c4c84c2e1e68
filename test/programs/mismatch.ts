// Each rank thinks it is the root of a bcast: mismatched collectives.
import { init } from 'tsmpi';

const world = await init();
await world.bcast(world.rank === 0 ? 'from 0' : 'from 1', { root: world.rank });
