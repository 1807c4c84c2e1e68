// Every rank says where it runs; rank 0 sends a message to every other rank, which receives it.
import os from 'node:os';
import { init } from 'tsmpi';

const world = await init();
console.log(`ready ${world.rank} ${process.pid} ${os.hostname()}`);
if (world.rank === 0) for (let r = 1; r < world.size; r++) await world.send(`hello ${r}`, r);
else console.log(`rank ${world.rank} got ${await world.recv<string>({ source: 0 })}`);
