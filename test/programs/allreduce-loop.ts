// Every rank says where it runs, then the ranks allreduce 1 MiB over and
// over, for argv[2] seconds (forever without it); they agree on when to stop.
import os from 'node:os';
import { init, MIN } from 'tsmpi';

const world = await init();
console.log(`ready ${world.rank} ${process.pid} ${os.hostname()}`);
const seconds = Number(process.argv[2] ?? Infinity);
const data = new Float32Array(256 * 1024).fill(world.rank);
const end = Date.now() + seconds * 1000;
do await world.allreduce(data);
while ((await world.allreduce(Date.now() < end ? 1 : 0, { op: MIN })) === 1);
console.log(`done ${world.rank}`);
