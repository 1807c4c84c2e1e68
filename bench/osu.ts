// The tsmpi side of the OSU-style suite, run as an SPMD job:
//   npx tsmpirun -n 2 bench/osu.ts p2p [--quick]
//   npx tsmpirun -n 4 bench/osu.ts collectives [--quick]
// --sizes=8,65536 (bytes) and --collectives=allreduce,bcast keep only those.
// Rank 0 prints one JSON row per line (see bench/common.ts).
import { finalize, init, MAX, SUM, type Communicator } from 'tsmpi';
import { COLLECTIVES, iterations, median, suiteSizes, window, type Row } from './common.js';

const world = await init();
const what = process.argv[2] ?? 'p2p';
const quick = process.argv.includes('--quick');
const only = (name: string): string[] | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3).split(',');
const sizes = suiteSizes();
const onlyCollectives = only('collectives');
const emit = (row: Omit<Row, 'stack' | 'np'>): void => {
  if (world.rank === 0) console.log(JSON.stringify({ stack: 'tsmpi', np: world.size, ...row }));
};
const now = (): number => Number(process.hrtime.bigint()) / 1e3; // microseconds

async function latency(c: Communicator): Promise<void> {
  for (const bytes of sizes.latency) {
    const buf = new Uint8Array(bytes);
    const rbuf = new Uint8Array(bytes); // received into, as osu_latency does
    const { warmup, timed } = iterations(bytes, quick);
    const rtts: number[] = [];
    await c.barrier();
    for (let i = 0; i < warmup + timed; i++) {
      const t = now();
      if (c.rank === 0) {
        await c.send(buf, 1, { tag: 1 });
        await c.recv({ source: 1, tag: 1, out: rbuf });
      } else if (c.rank === 1) {
        await c.recv({ source: 0, tag: 1, out: rbuf });
        await c.send(buf, 0, { tag: 1 });
      }
      if (i >= warmup) rtts.push(now() - t);
    }
    emit({ test: 'latency', bytes, value: median(rtts) / 2, unit: 'us' });
  }
}

async function bandwidth(c: Communicator, bidirectional: boolean): Promise<void> {
  for (const bytes of sizes.bandwidth) {
    const buf = new Uint8Array(bytes);
    const rbuf = new Uint8Array(bytes); // every receive of the window lands here, as in osu_bw
    const w = window(bytes);
    const { warmup, timed } = iterations(bytes * w, quick);
    const rates: number[] = [];
    await c.barrier();
    for (let i = 0; i < warmup + timed; i++) {
      const t = now();
      const sends: Promise<void>[] = [];
      const recvs: Promise<unknown>[] = [];
      if (c.rank === 0 || bidirectional) for (let k = 0; k < w; k++) sends.push(c.send(buf, 1 - c.rank, { tag: 2 }));
      if (c.rank === 1 || bidirectional) for (let k = 0; k < w; k++) recvs.push(c.recv({ source: 1 - c.rank, tag: 2, out: rbuf }));
      await Promise.all([...sends, ...recvs]);
      // The receiver acknowledges the window, as OSU's osu_bw does.
      if (c.rank === 1) await c.send(new Uint8Array(4), 0, { tag: 3 });
      else await c.recv({ source: 1, tag: 3 });
      if (i >= warmup) rates.push(((bidirectional ? 2 : 1) * bytes * w) / (now() - t)); // bytes/us = MB/s
    }
    emit({ test: bidirectional ? 'bibw' : 'bw', bytes, value: median(rates), unit: 'MB/s' });
  }
}

async function collectives(c: Communicator): Promise<void> {
  const p = c.size;
  for (const name of COLLECTIVES.filter((c) => onlyCollectives === undefined || onlyCollectives.includes(c))) {
    for (const bytes of sizes.collective) {
      // `bytes` is one rank's data; float32 elements, a multiple of p where the collective cuts blocks.
      const n = Math.max(p, Math.floor(bytes / 4 / p) * p);
      const data = new Float32Array(n).fill(c.rank + 1);
      const out = new Float32Array(n);
      const run = async (): Promise<unknown> => {
        switch (name) {
          case 'bcast':
            return c.bcast(c.rank === 0 ? data : out, { root: 0 });
          case 'scatter':
            return c.scatter<Float32Array>(c.rank === 0 ? new Float32Array(n * p) : undefined, { root: 0 });
          case 'gather':
            return c.gather(data, { root: 0 });
          case 'allgather':
            return c.allgather(data);
          case 'allreduce':
            return c.allreduce(data, { op: SUM, out });
          case 'reduce_scatter':
            return c.reduceScatter(data, { op: SUM });
          case 'alltoall':
            return c.alltoall(data);
        }
      };
      const { warmup, timed } = iterations(bytes * p, quick);
      const times: number[] = [];
      for (let i = 0; i < warmup + timed; i++) {
        await c.barrier();
        const t = now();
        await run();
        if (i >= warmup) times.push(now() - t);
      }
      // The slowest rank's median, as OSU reports the maximum over ranks.
      const worst = await c.allreduce(median(times), { op: MAX });
      emit({ test: name, bytes, value: worst, unit: 'us' });
    }
  }
}

/** `tune`: each algorithm of allreduce, bcast and allgather forced, across sizes, to set the thresholds of collectives/tuning.ts. */
async function tune(c: Communicator): Promise<void> {
  const sizes = quick ? [4 << 10, 64 << 10] : [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20];
  const cases: Array<[string, string[], (data: Float32Array, algorithm: string) => Promise<unknown>]> = [
    ['allreduce', ['recursive_doubling', 'rabenseifner', 'ring'], (d, a) => c.allreduce(d, { op: SUM, algorithm: a as never })],
    ['bcast', ['binomial', 'scatter_allgather'], (d, a) => c.bcast(c.rank === 0 ? d : new Float32Array(d.length), { root: 0, algorithm: a as never })],
    ['allgather', ['bruck', 'ring', ...((c.size & (c.size - 1)) === 0 ? ['recursive_doubling'] : [])], (d, a) => c.allgather(d, { algorithm: a as never })],
  ];
  for (const [name, algorithms, run] of cases) {
    for (const bytes of sizes) {
      const data = new Float32Array(Math.max(c.size, Math.floor(bytes / 4 / c.size) * c.size)).fill(1);
      for (const algorithm of algorithms) {
        const { warmup, timed } = iterations(bytes * c.size, quick);
        const times: number[] = [];
        for (let i = 0; i < warmup + Math.min(timed, 50); i++) {
          await c.barrier();
          const t = now();
          await run(data, algorithm);
          if (i >= warmup) times.push(now() - t);
        }
        const worst = await c.allreduce(median(times), { op: MAX });
        emit({ test: `${name}:${algorithm}`, bytes, value: worst, unit: 'us' });
      }
    }
  }
}

if (what === 'tune') {
  await tune(world);
} else if (what === 'p2p') {
  if (world.size !== 2) throw new Error('p2p tests run with -n 2');
  await latency(world);
  await bandwidth(world, false);
  await bandwidth(world, true);
} else {
  await collectives(world);
}
await finalize();
