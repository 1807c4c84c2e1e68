// Every rank says hello; rank 0 also reports the world size.
import os from 'node:os';
import { finalize, init } from 'tsmpi';

const world = await init();
console.log(`hello from rank ${world.rank} of ${world.size} on ${os.hostname()} (pid ${process.pid})`);
await finalize();
