// The last rank computes for argv[2] seconds without yielding to the event
// loop (it cannot answer a ping meanwhile) while the others wait for it in an
// allreduce; a busy rank is not a dead one, so the job completes.
import os from 'node:os';
import { init } from 'tsmpi';

const world = await init();
console.log(`ready ${world.rank} ${process.pid} ${os.hostname()}`);
await world.allreduce(new Float64Array(1024).fill(1));
if (world.rank === world.size - 1) {
  const end = Date.now() + Number(process.argv[2] ?? 120) * 1000;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  console.log(`rank ${world.rank} computed ${x > 0 ? 'something' : 'nothing'}`);
}
const sum = await world.allreduce(world.rank);
console.log(`rank ${world.rank} sum ${sum}`);
