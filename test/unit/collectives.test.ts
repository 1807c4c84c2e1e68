import { describe, expect, it } from 'vitest';
import { MAX, MIN, PROD, SUM, type Op } from '../../src/index.js';
import { spmd } from '../helpers/memory.js';

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17];

/** Rank r's contribution: a deterministic Float64Array of `n` values. */
function contribution(rank: number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => ((rank + 1) * (i + 3)) % 11 - 5);
}

function serialReduce(op: Op, size: number, n: number): Float64Array {
  const acc = contribution(0, n);
  for (let r = 1; r < size; r++) {
    const x = contribution(r, n);
    for (let i = 0; i < n; i++) {
      const a = acc[i] as number;
      const b = x[i] as number;
      acc[i] = op === SUM ? a + b : op === PROD ? a * b : op === MIN ? (a < b ? a : b) : a > b ? a : b;
    }
  }
  return acc;
}

describe.each(SIZES)('collectives on %i in-memory ranks', (size) => {
  it('barrier completes on every rank', async () => {
    await expect(spmd(size, (c) => c.barrier())).resolves.toHaveLength(size);
  });

  it('bcast delivers the root value to every rank, for every root', async () => {
    for (let root = 0; root < size; root++) {
      const got = await spmd(size, (c) => c.bcast(c.rank === root ? { root, data: new Int32Array([root, 7]) } : undefined, { root }));
      got.forEach((value, rank) => expect(value, `rank ${rank}, root ${root}`).toEqual({ root, data: new Int32Array([root, 7]) }));
    }
  });

  it('scatter hands element i of the root array to rank i, for every root', async () => {
    for (let root = 0; root < size; root++) {
      const data = Array.from({ length: size }, (_, i) => `item ${i} from ${root}`);
      const got = await spmd(size, (c) => c.scatter(c.rank === root ? data : undefined, { root }));
      expect(got).toEqual(data);
    }
  });

  it('gather collects every rank value in rank order at the root only', async () => {
    for (let root = 0; root < size; root++) {
      const got = await spmd(size, (c) => c.gather(new Uint16Array([c.rank, root]), { root }));
      got.forEach((value, rank) => {
        if (rank === root) expect(value).toEqual(Array.from({ length: size }, (_, i) => new Uint16Array([i, root])));
        else expect(value, `rank ${rank}`).toBeUndefined();
      });
    }
  });

  it.each([
    ['SUM', SUM],
    ['PROD', PROD],
    ['MIN', MIN],
    ['MAX', MAX],
  ] as const)('allreduce %s equals the serial reduction, bitwise, on every rank', async (_, op) => {
    for (const n of [0, 1, 1000]) {
      const got = await spmd(size, (c) => c.allreduce(contribution(c.rank, n), { op }));
      const expected = serialReduce(op, size, n);
      got.forEach((value, rank) => expect(value, `rank ${rank}, count ${n}`).toEqual(expected));
    }
  });

  it('allreduce reduces numbers and bigints', async () => {
    const nums = await spmd(size, (c) => c.allreduce(c.rank + 1, { op: SUM }));
    expect(nums).toEqual(Array(size).fill((size * (size + 1)) / 2));
    const bigs = await spmd(size, (c) => c.allreduce(BigInt(c.rank) * 2n ** 60n, { op: MAX }));
    expect(bigs).toEqual(Array(size).fill(BigInt(size - 1) * 2n ** 60n));
  });

  it('keeps collectives apart from point-to-point traffic with the same tag', async () => {
    const got = await spmd(size, async (c) => {
      const p2p = c.rank === 0 && size > 1 ? c.send('user', 1, { tag: 0 }) : Promise.resolve();
      const value = await c.bcast(c.rank === 0 ? 'collective' : undefined);
      await p2p;
      const user = c.rank === 1 ? await c.recv({ source: 0, tag: 0 }) : undefined;
      return [value, user];
    });
    expect(got[0]?.[0]).toBe('collective');
    if (size > 1) expect(got[1]).toEqual(['collective', 'user']);
  });

  it('runs several nonblocking collectives in flight at once', async () => {
    const got = await spmd(size, async (c) => {
      const a = c.allreduce(c.rank, { op: SUM });
      const b = c.bcast(c.rank === 0 ? 'b' : undefined);
      const d = c.allreduce(1, { op: SUM });
      return Promise.all([a, b, d]);
    });
    got.forEach((v) => expect(v).toEqual([(size * (size - 1)) / 2, 'b', size]));
  });
});
