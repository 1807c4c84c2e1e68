// Soak: a ring of ranks passes many small messages and many large ones, each
// checked word for word, while every rank samples its RSS; nothing may be
// lost or corrupted, and memory must stay flat.
//   npm run soak                 10^6 small messages and 10 GiB of 4 MiB ones per rank (4 ranks)
//   npm run soak -- --quick      10^4 and 64 MiB (CI's smoke test)
// Run through tsmpirun: tsmpirun -n 4 bench/soak.ts [--quick]
import { finalize, init, MAX, MIN, SUM } from 'tsmpi';

const quick = process.argv.includes('--quick');
const SMALL = quick ? 10_000 : 1_000_000;
const LARGE_BYTES = 4 << 20;
const LARGE = Math.round((quick ? 64 << 20 : 10 * 1024 ** 3) / LARGE_BYTES);

const world = await init();
const next = (world.rank + 1) % world.size;
const prev = (world.rank - 1 + world.size) % world.size;
const rss: number[] = [];
const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 500);
let errors = 0;

/** The words of message `seq` from `from`: every one different, so a lost, reordered or damaged message shows. */
function fill(words: Uint32Array, from: number, seq: number): Uint32Array {
  for (let i = 0; i < words.length; i++) words[i] = (Math.imul(seq + 1, 2654435761) ^ Math.imul(from + 1, 40503) ^ i) >>> 0;
  return words;
}

function check(words: Uint32Array, from: number, seq: number): void {
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== ((Math.imul(seq + 1, 2654435761) ^ Math.imul(from + 1, 40503) ^ i) >>> 0)) {
      errors++;
      return;
    }
  }
}

async function phase(count: number, words: number, tag: number, window: number): Promise<number> {
  const started = process.hrtime.bigint();
  // One buffer per message in flight, reused once its send has completed.
  const buffers = Array.from({ length: window }, () => new Uint32Array(words));
  for (let base = 0; base < count; base += window) {
    const n = Math.min(window, count - base);
    const sends = Array.from({ length: n }, (_, i) => world.send(fill(buffers[i] as Uint32Array, world.rank, base + i), next, { tag }));
    for (let i = 0; i < n; i++) check(await world.recv<Uint32Array>({ source: prev, tag }), prev, base + i);
    await Promise.all(sends);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const smallSeconds = await phase(SMALL, 4, 1, 64);
const largeSeconds = await phase(LARGE, LARGE_BYTES / 4, 2, 4);
clearInterval(sampler);
rss.push(process.memoryUsage().rss);
const half = Math.floor(rss.length / 2);
const mib = (b: number): number => Math.round(b / 2 ** 20);
const totalErrors = await world.allreduce(errors, { op: SUM });
const peak = await world.allreduce(Math.max(...rss), { op: MAX });
const late = await world.allreduce(Math.max(...rss.slice(half)), { op: MAX });
const early = await world.allreduce(Math.max(...rss.slice(0, Math.max(1, half))), { op: MAX });
const slowest = await world.allreduce(smallSeconds + largeSeconds, { op: MAX });
const fastest = await world.allreduce(smallSeconds + largeSeconds, { op: MIN });
if (world.rank === 0) {
  console.log(`soak: ${world.size} ranks in a ring; per rank ${SMALL} small messages (16 B) in ${smallSeconds.toFixed(1)} s, ${LARGE} messages of 4 MiB (${((LARGE * LARGE_BYTES) / 1024 ** 3).toFixed(2)} GiB) in ${largeSeconds.toFixed(1)} s`);
  console.log(`soak: every word checked: ${totalErrors === 0 ? 'nothing lost or damaged' : `${totalErrors} messages wrong`}`);
  console.log(`soak: RSS, the largest rank: ${mib(early)} MiB in the first half, ${mib(late)} MiB in the second, peak ${mib(peak)} MiB; ranks took ${fastest.toFixed(1)}-${slowest.toFixed(1)} s`);
}
await finalize();
if (totalErrors > 0) process.exit(1);
