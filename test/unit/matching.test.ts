import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG, PROC_NULL, type Status } from '../../src/index.js';
import { memoryWorld, spmd } from '../helpers/memory.js';

const newStatus = (): Status => ({ source: -9, tag: -9, count: -9, bytes: -9 });

describe('point-to-point matching (in-memory transport)', () => {
  it('selects by tag: a receive for tag 2 skips an earlier tag-1 message', async () => {
    const [, got] = await spmd(2, async (c) => {
      if (c.rank === 0) {
        await c.send('first', 1, { tag: 1 });
        await c.send('second', 1, { tag: 2 });
        return [];
      }
      const b = await c.recv({ source: 0, tag: 2 });
      const a = await c.recv({ source: 0, tag: 1 });
      return [a, b];
    });
    expect(got).toEqual(['first', 'second']);
  });

  it('ANY_SOURCE with status reports the real source, tag and count', async () => {
    const results = await spmd(4, async (c) => {
      if (c.rank !== 0) {
        await c.send(new Float64Array(c.rank), 0, { tag: 10 + c.rank });
        return [];
      }
      const seen: Array<[number, number, number]> = [];
      for (let i = 0; i < 3; i++) {
        const status = newStatus();
        const data = await c.recv<Float64Array>({ source: ANY_SOURCE, tag: ANY_TAG, status });
        expect(data.length).toBe(status.source);
        seen.push([status.source, status.tag, status.count]);
      }
      return seen.sort((a, b) => a[0] - b[0]);
    });
    expect(results[0]).toEqual([
      [1, 11, 1],
      [2, 12, 2],
      [3, 13, 3],
    ]);
  });

  it('keeps 1000 messages from one sender in order (non-overtaking), also with ANY_TAG', async () => {
    const [, got] = await spmd(2, async (c) => {
      if (c.rank === 0) {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => c.send(i, 1, { tag: i % 3 })));
        return [];
      }
      const out: number[] = [];
      for (let i = 0; i < 1000; i++) out.push(await c.recv<number>({ source: 0, tag: ANY_TAG }));
      return out;
    });
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('queues unexpected messages until a matching receive is posted', async () => {
    const { comms } = memoryWorld(2);
    const [a, b] = comms as [NonNullable<(typeof comms)[0]>, NonNullable<(typeof comms)[1]>];
    await a.send({ x: 1 }, 1, { tag: 5 });
    await new Promise((r) => setTimeout(r, 10));
    expect(b.iprobe({ source: 0, tag: 5 })).toMatchObject({ source: 0, tag: 5 });
    expect(await b.recv({ source: 0, tag: 5 })).toEqual({ x: 1 });
    expect(b.iprobe({ source: 0 })).toBeUndefined();
  });

  it('sends to itself', async () => {
    const [got] = await spmd(1, async (c) => {
      const pending = c.recv<Int16Array>({ source: 0, tag: 3 });
      const data = new Int16Array([1, 2, 3]);
      await c.send(data, 0, { tag: 3 });
      data[0] = 99; // the message is a copy
      return pending;
    });
    expect(got).toEqual(new Int16Array([1, 2, 3]));
  });

  it('treats PROC_NULL as a no-op peer', async () => {
    const [got] = await spmd(1, async (c) => {
      await c.send('ignored', PROC_NULL);
      const status = newStatus();
      const value = await c.recv({ source: PROC_NULL, status });
      return { value, status, probe: await c.probe({ source: PROC_NULL }) };
    });
    expect(got?.value).toBeUndefined();
    expect(got?.status).toEqual({ source: PROC_NULL, tag: ANY_TAG, count: 0, bytes: 0 });
    expect(got?.probe.source).toBe(PROC_NULL);
  });

  it('probe waits for a message without receiving it', async () => {
    const [, got] = await spmd(2, async (c) => {
      if (c.rank === 0) {
        await new Promise((r) => setTimeout(r, 20));
        await c.send(new Uint32Array(7), 1, { tag: 4 });
        return undefined;
      }
      const status = await c.probe({ source: ANY_SOURCE, tag: 4 });
      const data = await c.recv<Uint32Array>({ source: status.source, tag: status.tag });
      return { status, length: data.length };
    });
    expect(got).toEqual({ status: { source: 0, tag: 4, count: 7, bytes: 28 }, length: 7 });
  });

  it('sendrecv exchanges around a ring without deadlock', async () => {
    const got = await spmd(5, async (c) =>
      c.sendrecv(c.rank, (c.rank + 1) % c.size, { source: (c.rank - 1 + c.size) % c.size }),
    );
    expect(got).toEqual([4, 0, 1, 2, 3]);
  });

  it('cancels a receive through its AbortSignal', async () => {
    const { comms } = memoryWorld(2);
    const controller = new AbortController();
    const pending = comms[1]!.recv({ source: 0, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_TSMPI_ABORTED', op: 'recv' });
  });

  it('gives up a receive after timeoutMs with TimeoutError', async () => {
    const { comms } = memoryWorld(2);
    await expect(comms[1]!.recv({ source: 0, tag: 1, timeoutMs: 20 })).rejects.toMatchObject({
      code: 'ERR_TSMPI_TIMEOUT',
      op: 'recv',
    });
  });

  it('rejects a pending receive when its source dies, naming the rank', async () => {
    const { job, comms } = memoryWorld(3);
    const fromTwo = comms[0]!.recv({ source: 2 });
    const fromAny = comms[0]!.recv({ source: ANY_SOURCE });
    job.kill(2, 'exited with code 3');
    await expect(fromTwo).rejects.toMatchObject({ code: 'ERR_TSMPI_PEER_FAILED', rank: 2 });
    await expect(fromAny).rejects.toMatchObject({ code: 'ERR_TSMPI_PEER_FAILED', rank: 2 });
    await expect(comms[0]!.recv({ source: 2 })).rejects.toMatchObject({ code: 'ERR_TSMPI_PEER_FAILED', rank: 2 });
    await expect(comms[0]!.send(1, 2)).rejects.toMatchObject({ code: 'ERR_TSMPI_PEER_FAILED', rank: 2 });
  });
});

describe('a peer that finalized', () => {
  it('fails receives from exactly that rank, after its last messages, but not ANY_SOURCE receives', async () => {
    const { job, comms } = memoryWorld(3);
    await comms[2]!.send('last words', 0, { tag: 1 });
    job.finish(2);
    const anySource = comms[0]!.recv({ source: ANY_SOURCE, tag: 2 });
    expect(await comms[0]!.recv({ source: 2, tag: 1 })).toBe('last words');
    await expect(comms[0]!.recv({ source: 2, tag: 1 })).rejects.toMatchObject({ code: 'ERR_TSMPI_PEER_FAILED', rank: 2 });
    await comms[1]!.send('still here', 0, { tag: 2 });
    expect(await anySource).toBe('still here');
  });
});
