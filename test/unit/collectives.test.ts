// One collective suite on the in-memory transport: every size 1..17, 32 and 33,
// every root, several counts, each algorithm forced, against serial references.
// Results must be bitwise equal on every rank; failures name the rank.
import { describe, expect, it } from 'vitest';
import { createOp, MAX, MIN, PROD, SUM, type Op } from '../../src/index.js';
import type { Communicator } from '../../src/comm.js';
import { spmd } from '../helpers/memory.js';

const SIZES = [...Array.from({ length: 17 }, (_, i) => i + 1), 32, 33];
const COUNTS = [0, 1, 5, 1000];

/** Rank r's float contribution: awkward values so that the reduction order shows in the bits. */
function contribution(rank: number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (((rank + 1) * (i + 3)) % 11) - 5 + 1 / (rank + i + 3));
}

function apply(op: Op, a: number, b: number): number {
  if (op === SUM) return a + b;
  if (op === PROD) return a * b;
  if (op === MIN) return a < b ? a : b;
  return a > b ? a : b;
}

/** The reduction in rank order, ((x0 op x1) op x2) ... — exact for integers. */
function serialInts(op: Op, size: number, n: number): Int32Array {
  const acc = Int32Array.from({ length: n }, (_, i) => (i % 7) - 3);
  for (let r = 1; r < size; r++) for (let i = 0; i < n; i++) acc[i] = apply(op, acc[i]!, ((r * 5 + i) % 7) - 3);
  return acc;
}
const intContribution = (rank: number, n: number): Int32Array =>
  Int32Array.from({ length: n }, (_, i) => (rank === 0 ? (i % 7) - 3 : ((rank * 5 + i) % 7) - 3));

/** Every rank got bitwise the same bytes. */
function sameBytes(values: ArrayLike<unknown>[]): void {
  const first = Buffer.from((values[0] as Float64Array).buffer, (values[0] as Float64Array).byteOffset, (values[0] as Float64Array).byteLength);
  values.forEach((v, rank) => {
    const a = v as Float64Array;
    expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(first), `rank ${rank} differs from rank 0`).toBe(true);
  });
}


/** Fast exact comparison of TypedArrays; on a difference, names the first differing index. */
function expectArray(actual: unknown, expected: ArrayLike<unknown> & { constructor: unknown; length: number }, label: string): void {
  const a = actual as Float64Array;
  const e = expected as unknown as Float64Array;
  expect(a?.constructor, `${label}: type`).toBe(e.constructor);
  expect(a.length, `${label}: length`).toBe(e.length);
  if (!Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(e.buffer, e.byteOffset, e.byteLength))) {
    const i = a.findIndex((x, k) => !Object.is(x, e[k]));
    expect(a[i], `${label}: index ${i}`).toBe(e[i]);
  }
}

const run = <T>(size: number, body: (c: Communicator) => Promise<T>): Promise<T[]> => spmd(size, body);

describe.each(SIZES)('collectives on %i in-memory ranks', (size) => {
  it('barrier', async () => {
    await expect(run(size, (c) => c.barrier())).resolves.toHaveLength(size);
  });

  it('bcast, object and buffer forms, every root, each algorithm', async () => {
    for (let root = 0; root < size; root++) {
      const value = { root, text: 'x'.repeat(root) };
      const objects = await run(size, (c) => c.bcast(c.rank === root ? value : undefined, { root }));
      objects.forEach((v, rank) => expect(v, `rank ${rank}`).toEqual(value));
      for (const algorithm of ['binomial', 'scatter_allgather'] as const) {
        for (const n of [0, 3, 1000]) {
          const data = Float64Array.from({ length: n }, (_, i) => i * root + 0.5);
          const got = await run(size, (c) => c.bcast(c.rank === root ? data : undefined, { root, algorithm }));
          got.forEach((v, rank) => expectArray(v, data, `rank ${rank}, ${algorithm}, root ${root}, count ${n}`));
          const inPlace = await run(size, (c) => c.bcast(c.rank === root ? data : new Float64Array(n), { root, algorithm }));
          inPlace.forEach((v, rank) => expectArray(v, data, `rank ${rank}, in place`));
        }
      }
    }
  });

  it('scatter and gather, object and buffer forms, every root', async () => {
    for (let root = 0; root < size; root++) {
      const items = Array.from({ length: size }, (_, i) => ({ i, root }));
      expect(await run(size, (c) => c.scatter(c.rank === root ? items : undefined, { root }))).toEqual(items);
      const gathered = await run(size, (c) => c.gather({ from: c.rank }, { root }));
      gathered.forEach((v, rank) => expect(v, `rank ${rank}`).toEqual(rank === root ? items.map((_, i) => ({ from: i })) : undefined));
      for (const n of [0, 2]) {
        const buf = Int16Array.from({ length: n * size }, (_, i) => i - root);
        const parts = await run(size, (c) => c.scatter<Int16Array>(c.rank === root ? buf : undefined, { root }));
        parts.forEach((p, rank) => expect(p, `rank ${rank}`).toEqual(buf.subarray(rank * n, (rank + 1) * n)));
        const back = await run(size, (c) => c.gather(parts[c.rank]!, { root }));
        expect(back[root]).toEqual(buf);
      }
    }
  });

  it('scatterv and gatherv with uneven blocks', async () => {
    const counts = Array.from({ length: size }, (_, i) => i % 3);
    const total = counts.reduce((a, b) => a + b, 0);
    const buf = Float32Array.from({ length: total }, (_, i) => i + 0.25);
    const root = size - 1;
    const parts = await run(size, (c) => c.scatterv(c.rank === root ? buf : undefined, c.rank === root ? counts : undefined, { root }));
    parts.forEach((p, rank) => expect(p.length, `rank ${rank}`).toBe(counts[rank]));
    const back = await run(size, (c) => c.gatherv(parts[c.rank]!, { root }));
    expect(back[root]).toEqual({ data: buf, counts });
  });

  it('allgather: objects, buffers, each algorithm; allgatherv', async () => {
    const objs = await run(size, (c) => c.allgather(`r${c.rank}`));
    objs.forEach((v) => expect(v).toEqual(Array.from({ length: size }, (_, i) => `r${i}`)));
    const pow2 = (size & (size - 1)) === 0;
    for (const algorithm of ['recursive_doubling', 'bruck', 'ring', undefined] as const) {
      if (algorithm === 'recursive_doubling' && !pow2) continue;
      for (const n of COUNTS) {
        const got = await run(size, (c) => c.allgather(Uint32Array.from({ length: n }, (_, i) => c.rank * 1000 + i), algorithm ? { algorithm } : {}));
        const expected = Uint32Array.from({ length: n * size }, (_, k) => Math.floor(k / Math.max(n, 1)) * 1000 + (k % Math.max(n, 1)));
        got.forEach((v, rank) => expectArray(v, expected, `rank ${rank}, ${algorithm}, count ${n}`));
      }
    }
    const v = await run(size, (c) => c.allgatherv(new Int8Array(c.rank % 4).fill(c.rank)));
    const counts = Array.from({ length: size }, (_, i) => i % 4);
    v.forEach((r) => expect(r.counts).toEqual(counts));
  });

  it.each([
    ['SUM', SUM],
    ['PROD', PROD],
    ['MIN', MIN],
    ['MAX', MAX],
  ] as const)('allreduce and reduce %s: exact on integers, bitwise equal floats on every rank, each algorithm', async (_, op) => {
    for (const n of COUNTS) {
      const expected = serialInts(op, size, n);
      for (const algorithm of ['recursive_doubling', 'rabenseifner', 'ring', undefined] as const) {
        const got = await run(size, (c) => c.allreduce(intContribution(c.rank, n), { op, ...(algorithm ? { algorithm } : {}) }));
        got.forEach((v, rank) => expectArray(v, expected, `rank ${rank}, ${algorithm}, count ${n}`));
        const floats = await run(size, (c) => c.allreduce(contribution(c.rank, n), { op, ...(algorithm ? { algorithm } : {}) }));
        sameBytes(floats);
        const again = await run(size, (c) => c.allreduce(contribution(c.rank, n), { op, ...(algorithm ? { algorithm } : {}) }));
        expect(Buffer.from(again[0]!.buffer).equals(Buffer.from(floats[0]!.buffer)), 'run-to-run determinism').toBe(true);
      }
      for (const algorithm of ['binomial', 'reduce_scatter_gather'] as const) {
        for (const root of [0, size - 1, size >> 1]) {
          const got = await run(size, (c) => c.reduce(intContribution(c.rank, n), { op, root, algorithm }));
          got.forEach((v, rank) => (rank === root ? expectArray(v, expected, `rank ${rank}, ${algorithm}, root ${root}`) : expect(v).toBeUndefined()));
        }
      }
    }
  });

  it('keeps operands in rank order for a non-commutative user op', async () => {
    const concat = createOp((a: string, b: string) => a + b);
    const expected = Array.from({ length: size }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const all = await run(size, (c) => c.allreduce(String.fromCharCode(97 + (c.rank % 26)), { op: concat }));
    all.forEach((v, rank) => expect(v, `rank ${rank}`).toBe(expected));
    for (const root of [0, size - 1]) {
      const r = await run(size, (c) => c.reduce(String.fromCharCode(97 + (c.rank % 26)), { op: concat, root }));
      expect(r[root]).toBe(expected);
    }
    const scans = await run(size, (c) => c.scan(String.fromCharCode(97 + (c.rank % 26)), { op: concat }));
    scans.forEach((v, rank) => expect(v, `rank ${rank}`).toBe(expected.slice(0, rank + 1)));
    const ex = await run(size, (c) => c.exscan(String.fromCharCode(97 + (c.rank % 26)), { op: concat }));
    ex.forEach((v, rank) => expect(v, `rank ${rank}`).toBe(rank === 0 ? undefined : expected.slice(0, rank)));
  });

  it('reduceScatter: block and v forms, each algorithm; object form', async () => {
    const pow2 = (size & (size - 1)) === 0;
    for (const algorithm of ['recursive_halving', 'pairwise', undefined] as const) {
      if (algorithm === 'recursive_halving' && !pow2) continue;
      for (const k of [0, 1, 3]) {
        const n = k * size;
        const expected = serialInts(SUM, size, n);
        const got = await run(size, (c) => c.reduceScatter(intContribution(c.rank, n), { op: SUM, ...(algorithm ? { algorithm } : {}) }));
        got.forEach((v, rank) => expect(v, `rank ${rank}, ${algorithm}, block ${k}`).toEqual(expected.subarray(rank * k, (rank + 1) * k)));
      }
    }
    const counts = Array.from({ length: size }, (_, i) => (i * 2) % 5);
    const total = counts.reduce((a, b) => a + b, 0);
    const expected = serialInts(MAX, size, total);
    const got = await run(size, (c) => c.reduceScatter(intContribution(c.rank, total), { op: MAX, counts }));
    let offset = 0;
    got.forEach((v, rank) => {
      expect(v, `rank ${rank}`).toEqual(expected.subarray(offset, offset + counts[rank]!));
      offset += counts[rank]!;
    });
    const objs = await run(size, (c) => c.reduceScatter(Array.from({ length: size }, (_, i) => c.rank * i), { op: SUM }));
    objs.forEach((v, rank) => expect(v).toBe((rank * size * (size - 1)) / 2));
  });

  it('alltoall: objects, buffers, each algorithm; alltoallv', async () => {
    const objs = await run(size, (c) => c.alltoall(Array.from({ length: size }, (_, i) => `${c.rank}->${i}`)));
    objs.forEach((v, rank) => expect(v).toEqual(Array.from({ length: size }, (_, i) => `${i}->${rank}`)));
    for (const algorithm of ['pairwise', 'bruck'] as const) {
      for (const k of [0, 1, 4]) {
        const got = await run(size, (c) => c.alltoall(Int32Array.from({ length: k * size }, (_, j) => c.rank * 10000 + j), { algorithm }));
        got.forEach((v, rank) => {
          const expected = Int32Array.from({ length: k * size }, (_, j) => Math.floor(j / k) * 10000 + rank * k + (j % k));
          expectArray(v, expected, `rank ${rank}, ${algorithm}, block ${k}`);
        });
      }
    }
    const v = await run(size, (c) => {
      const counts = Array.from({ length: size }, (_, i) => (c.rank + i) % 3);
      const data = new Float64Array(counts.reduce((a, b) => a + b, 0)).fill(c.rank);
      return c.alltoallv(data, counts);
    });
    v.forEach((r, rank) => expect(r.counts).toEqual(Array.from({ length: size }, (_, i) => (i + rank) % 3)));
  });

  it('scan and exscan on TypedArrays', async () => {
    const got = await run(size, (c) => c.scan(intContribution(c.rank, 4), { op: SUM }));
    got.forEach((v, rank) => expect(v, `rank ${rank}`).toEqual(serialInts(SUM, rank + 1, 4)));
    const ex = await run(size, (c) => c.exscan(intContribution(c.rank, 4), { op: SUM }));
    ex.forEach((v, rank) => expect(v, `rank ${rank}`).toEqual(rank === 0 ? undefined : serialInts(SUM, rank, 4)));
  });

  it('runs several nonblocking collectives in flight at once, and keeps them apart from point-to-point', async () => {
    const got = await run(size, async (c) => {
      const p2p = c.rank === 0 && size > 1 ? c.send('user', 1, { tag: 0 }) : Promise.resolve();
      const results = await Promise.all([c.allreduce(c.rank, { op: SUM }), c.bcast(c.rank === 0 ? 'b' : undefined), c.allgather(c.rank), c.allreduce(1)]);
      await p2p;
      const user = c.rank === 1 ? await c.recv({ source: 0, tag: 0 }) : 'user';
      return [...results, user];
    });
    got.forEach((v) => expect(v).toEqual([(size * (size - 1)) / 2, 'b', Array.from({ length: size }, (_, i) => i), size, 'user']));
  });
});
