// Collectives over the real transport against serial references. Prints "ok <name>" on rank 0.
import { createOp, finalize, init, MAX, MIN, PROD, SUM, UNDEFINED, type Op } from 'tsmpi';
import { check } from './check.js';

const world = await init();
const { rank, size } = world;
const ok = (name: string): void => {
  if (rank === 0) console.log(`ok ${name}`);
};
const ints = (r: number, n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => ((r * 5 + i) % 7) - 3);
const firstDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
};

await world.barrier();
ok('barrier');

for (let root = 0; root < size; root++) {
  for (const n of [0, 1, 1000, 300_000]) {
    const data = Float64Array.from({ length: n }, (_, i) => i + root);
    const got = await world.bcast(rank === root ? data : undefined, { root });
    check(rank, `bcast root ${root} count ${n}: first differing index`, firstDiff(got, data), -1);
    const obj = await world.bcast(rank === root ? { root, n } : undefined, { root });
    check(rank, `bcast object root ${root}`, obj, { root, n });
    const whole = Int32Array.from({ length: n * size }, (_, i) => i ^ root);
    const mine = await world.scatter<Int32Array>(rank === root ? whole : undefined, { root });
    check(rank, `scatter root ${root} count ${n}`, firstDiff(mine, whole.subarray(rank * n, (rank + 1) * n)), -1);
    const all = await world.gather(mine, { root });
    if (rank === root) check(rank, `gather root ${root} count ${n}`, firstDiff(all as Int32Array, whole), -1);
  }
}
ok('bcast, scatter, gather for every root');

const ops: Array<[string, Op]> = [['SUM', SUM], ['PROD', PROD], ['MIN', MIN], ['MAX', MAX]];
for (const [name, op] of ops) {
  for (const n of [0, 1, 1000, 300_000]) {
    const expected = ints(0, n);
    for (let r = 1; r < size; r++) {
      const x = ints(r, n);
      for (let i = 0; i < n; i++) {
        const a = expected[i]!;
        const b = x[i]!;
        expected[i] = op === SUM ? a + b : op === PROD ? a * b : op === MIN ? (a < b ? a : b) : a > b ? a : b;
      }
    }
    for (const algorithm of ['recursive_doubling', 'rabenseifner', 'ring'] as const) {
      const got = await world.allreduce(ints(rank, n), { op, algorithm });
      check(rank, `allreduce ${name} ${algorithm} count ${n}: first differing index`, firstDiff(got, expected), -1);
    }
    const atRoot = await world.reduce(ints(rank, n), { op, root: size - 1 });
    if (rank === size - 1) check(rank, `reduce ${name} count ${n}`, firstDiff(atRoot!, expected), -1);
  }
}
const floats = await world.allreduce(Float64Array.from({ length: 5000 }, (_, i) => 1 / (rank + i + 1)), { op: SUM });
const everyone = await world.allgather(floats);
for (let r = 1; r < size; r++) check(rank, `allreduce bitwise equal on rank ${r}`, firstDiff(everyone.subarray(r * 5000, (r + 1) * 5000), floats), -1);
ok('allreduce and reduce, every op and algorithm');

const concat = createOp((a: string, b: string) => a + b);
const letters = Array.from({ length: size }, (_, i) => String.fromCharCode(97 + i)).join('');
check(rank, 'non-commutative allreduce', await world.allreduce(letters[rank]!, { op: concat }), letters);
check(rank, 'scan', await world.scan(letters[rank]!, { op: concat }), letters.slice(0, rank + 1));
check(rank, 'exscan', await world.exscan(letters[rank]!, { op: concat }), rank === 0 ? undefined : letters.slice(0, rank));
ok('user ops, scan, exscan');

const blocks = await world.reduceScatter(Int32Array.from({ length: 3 * size }, (_, i) => i + rank), { op: SUM });
check(rank, 'reduceScatter block', [...blocks], [0, 1, 2].map((j) => size * (3 * rank + j) + (size * (size - 1)) / 2));
const a2a = await world.alltoall(Array.from({ length: size }, (_, i) => `${rank}->${i}`));
check(rank, 'alltoall', a2a, Array.from({ length: size }, (_, i) => `${i}->${rank}`));
const counts = Array.from({ length: size }, (_, i) => (rank + i) % 3);
const v = await world.alltoallv(new Float32Array(counts.reduce((x, y) => x + y, 0)).fill(rank), counts);
check(rank, 'alltoallv counts', v.counts, Array.from({ length: size }, (_, i) => (i + rank) % 3));
ok('reduceScatter, alltoall, alltoallv');

const half = await world.split(rank % 2, -rank);
const members = await half!.allgather(rank);
check(rank, 'split members (key reverses the order)', members, Array.from({ length: size }, (_, i) => i).filter((r) => r % 2 === rank % 2).reverse());
const copy = await world.dup();
const [x, y] = await Promise.all([copy.allreduce(1), half!.allreduce(1)]);
check(rank, 'dup and split in flight together', [x, y], [size, members.length]);
const none = await world.split(rank === 0 ? UNDEFINED : 0);
check(rank, 'UNDEFINED color', none === null, rank === 0);
copy.free();
ok('split, dup, free');

await finalize();
