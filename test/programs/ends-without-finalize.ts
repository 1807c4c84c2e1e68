// Does its work and ends without calling finalize(): the runtime finalizes at exit.
import { init } from 'tsmpi';

const world = await init();
const sum = await world.allreduce(world.rank + 1);
await world.barrier();
console.log(`rank ${world.rank} sum ${sum}`);
