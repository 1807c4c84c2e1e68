// A job for the fault matrix: `faults.ts <phase> <victim> [exit]`. Every rank
// prints `ready <rank> <pid>` once it is in <phase>; the test then kills or
// stops the victim rank, or (with `exit`) the victim exits with status 3 there.
//   init:      before init() returns (the line is printed before init)
//   recv:      rank 0 waits for a message from the victim, the others in a barrier
//   barrier:   every rank loops over barriers
//   allreduce: every rank loops over allreduces of 16 MiB (float32)
//   finalize:  the victim is in finalize(), the others still work for a while
import { finalize, init } from 'tsmpi';

const [phase = 'recv', victimText = '1', exit] = process.argv.slice(2);
const victim = Number(victimText);
const me = Number(process.env.TSMPI_COMM_WORLD_RANK);
const ready = (): void => {
  console.log(`ready ${me} ${process.pid}`);
  if (exit === 'exit' && me === victim) process.exit(3);
};

if (phase === 'init') ready();
const world = await init();
switch (phase) {
  case 'init':
    await world.barrier();
    break;
  case 'recv':
    ready();
    if (world.rank === 0) await world.recv({ source: victim });
    else if (world.rank !== victim) await world.barrier();
    else await new Promise((resolve) => setTimeout(resolve, 60_000));
    break;
  case 'barrier':
    ready();
    for (;;) await world.barrier();
  case 'allreduce': {
    const data = new Float32Array(4 << 20);
    ready();
    for (;;) await world.allreduce(data);
  }
  case 'finalize':
    if (world.rank === victim) {
      ready();
      await finalize();
    } else {
      ready();
      for (let i = 0; i < 400; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      await finalize();
    }
    break;
}
