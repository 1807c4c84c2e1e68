// Collectives over the real transport against serial references. Prints "ok <name>" on rank 0.
import { finalize, init, MAX, MIN, PROD, SUM, type Op } from 'tsmpi';
import { check } from './check.js';

const world = await init();
const { rank, size } = world;
const ok = (name: string): void => {
  if (rank === 0) console.log(`ok ${name}`);
};
const contribution = (r: number, n: number): Float64Array => Float64Array.from({ length: n }, (_, i) => ((r + 1) * (i + 3)) % 11 - 5);

await world.barrier();
ok('barrier');

for (let root = 0; root < size; root++) {
  for (const n of [0, 1, 1000, 300_000]) {
    const value = { root, data: Float64Array.from({ length: n }, (_, i) => i + root) };
    const got = await world.bcast(rank === root ? value : undefined, { root });
    check(rank, `bcast root ${root} count ${n}`, got, value);
    const parts = Array.from({ length: size }, (_, i) => new Int32Array(n).fill(i * 10 + root));
    const mine = await world.scatter(rank === root ? parts : undefined, { root });
    check(rank, `scatter root ${root} count ${n}`, mine, parts[rank]);
    const all = await world.gather(new Int32Array(n).fill(rank), { root });
    check(rank, `gather root ${root} count ${n}`, all, rank === root ? Array.from({ length: size }, (_, i) => new Int32Array(n).fill(i)) : undefined);
  }
}
ok('bcast, scatter, gather for every root');

const ops: Array<[string, Op]> = [['SUM', SUM], ['PROD', PROD], ['MIN', MIN], ['MAX', MAX]];
for (const [name, op] of ops) {
  for (const n of [0, 1, 1000, 300_000]) {
    const expected = contribution(0, n);
    for (let r = 1; r < size; r++) {
      const x = contribution(r, n);
      for (let i = 0; i < n; i++) {
        const a = expected[i] as number;
        const b = x[i] as number;
        expected[i] = op === SUM ? a + b : op === PROD ? a * b : op === MIN ? (a < b ? a : b) : a > b ? a : b;
      }
    }
    const got = await world.allreduce(contribution(rank, n), { op });
    const bad = got.findIndex((v, i) => !Object.is(v, expected[i]));
    check(rank, `allreduce ${name} count ${n}: first differing index`, bad, -1);
  }
}
check(rank, 'allreduce of numbers', await world.allreduce(rank + 1), (size * (size + 1)) / 2);
check(rank, 'allreduce of bigints', await world.allreduce(BigInt(rank), { op: MAX }), BigInt(size - 1));
ok('allreduce SUM PROD MIN MAX');

await finalize();
