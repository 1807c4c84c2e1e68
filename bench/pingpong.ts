// Ping-pong between ranks 0 and 1 (OSU-style latency): median round trip per message size.
//   npx tsmpirun -n 2 bench/pingpong.ts [iterations]
import { finalize, init } from 'tsmpi';

const world = await init();
if (world.size !== 2) throw new Error('run with -n 2');
const iterations = Number(process.argv[2] ?? 2000);
const warmup = Math.min(200, iterations);
const rows: Array<{ bytes: number; medianRttUs: number; p10Us: number; p90Us: number }> = [];

for (const bytes of [8, 1024, 65536, 1 << 20]) {
  const buf = new Uint8Array(bytes);
  const samples: number[] = [];
  const n = bytes >= 1 << 20 ? Math.min(iterations, 200) : iterations;
  await world.barrier();
  for (let i = 0; i < warmup + n; i++) {
    const t = process.hrtime.bigint();
    if (world.rank === 0) {
      await world.send(buf, 1, { tag: 1 });
      await world.recv({ source: 1, tag: 1 });
    } else {
      await world.recv({ source: 0, tag: 1 });
      await world.send(buf, 0, { tag: 1 });
    }
    if (i >= warmup) samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => Math.round((samples[Math.floor(q * (samples.length - 1))] ?? 0) * 10) / 10;
  rows.push({ bytes, medianRttUs: at(0.5), p10Us: at(0.1), p90Us: at(0.9) });
}
if (world.rank === 0) console.table(rows);
await finalize();
