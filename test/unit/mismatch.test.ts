// Mismatched collective calls become CollectiveMismatchError on the ranks involved: never a hang, never garbage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX, SUM } from '../../src/index.js';
import type { Communicator } from '../../src/comm.js';
import { memoryWorld } from '../helpers/memory.js';

const settle = (p: Promise<unknown>): Promise<unknown> => p.then((value) => ({ value }), (error: unknown) => error);

async function both(size: number, body: (c: Communicator) => Promise<unknown>): Promise<unknown[]> {
  const { comms } = memoryWorld(size);
  return Promise.all(comms.map((c) => settle(body(c))));
}

describe('collective mismatch detection', () => {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.TSMPI_COLL_CHECK_MS;
    process.env.TSMPI_COLL_CHECK_MS = '50';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TSMPI_COLL_CHECK_MS;
    else process.env.TSMPI_COLL_CHECK_MS = saved;
  });

  it('names both calls when ranks call different collectives', async () => {
    const results = await both(2, (c) => (c.rank === 0 ? c.barrier() : c.bcast(undefined, { root: 0 })));
    for (const r of results) expect(r).toMatchObject({ code: 'ERR_TSMPI_COLLECTIVE_MISMATCH' });
    expect((results[1] as Error).message).toMatch(/rank 1 called bcast\(root 0.*\) but rank 0 called barrier\(\)/);
  });

  it('fails both roots of a bcast whose ranks disagree on the root (no rank receives anything)', async () => {
    const results = await both(2, async (c) => {
      await c.bcast(`from ${c.rank}`, { root: c.rank });
      await c.barrier();
    });
    for (const r of results) expect(r).toMatchObject({ code: 'ERR_TSMPI_COLLECTIVE_MISMATCH' });
    expect((results[0] as Error).message).toContain('different roots');
  });

  it('catches disagreeing roots that would deadlock, through the watchdog', async () => {
    const results = await both(3, (c) => c.bcast(undefined, { root: (c.rank + 1) % 3 }));
    for (const r of results) expect(r).toMatchObject({ code: 'ERR_TSMPI_COLLECTIVE_MISMATCH' });
  });

  it('catches different counts, datatypes and ops in allreduce', async () => {
    const counts = await both(2, (c) => c.allreduce(new Float64Array(c.rank + 1)));
    for (const r of counts) expect(r).toMatchObject({ code: 'ERR_TSMPI_COLLECTIVE_MISMATCH' });
    expect((counts[0] as Error).message).toContain('different counts');
    const types = await both(2, (c) => c.allreduce(c.rank === 0 ? new Float64Array(4) : new Float32Array(4)));
    expect((types[0] as Error).message).toContain('different datatypes');
    const ops = await both(2, (c) => c.allreduce(1, { op: c.rank === 0 ? SUM : MAX }));
    expect((ops[1] as Error).message).toContain('different ops');
  });

  it('leaves matching collectives alone, however slow a rank is', async () => {
    const results = await both(3, async (c) => {
      if (c.rank === 2) await new Promise((r) => setTimeout(r, 300)); // six check intervals
      return c.allreduce(c.rank);
    });
    expect(results).toEqual([{ value: 3 }, { value: 3 }, { value: 3 }]);
  });
});
