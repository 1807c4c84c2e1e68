// Every rank joins the job, says so, then waits for a message that never comes.
import { init } from 'tsmpi';

const world = await init();
console.log(`ready ${world.rank} ${process.pid}`);
await world.recv({ source: (world.rank + 1) % world.size, tag: 99 });
