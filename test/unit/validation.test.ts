import { describe, expect, it } from 'vitest';
import { ANY_TAG, InvalidArgumentError, MAX, NotInitializedError, SerializationError, TAG_UB, world } from '../../src/index.js';
import { memoryWorld } from '../helpers/memory.js';

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('argument validation', () => {
  const { comms } = memoryWorld(4);
  const c = comms[0]!;

  it('refuses a destination out of range and names the valid range', async () => {
    const error = await rejection(c.send(1, 4));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'ERR_TSMPI_INVALID_ARGUMENT', argument: 'dest' });
    expect((error as Error).message).toContain('0..3');
    await expect(c.send(1, -5)).rejects.toMatchObject({ argument: 'dest' });
    await expect(c.send(1, 1.5)).rejects.toMatchObject({ argument: 'dest' });
  });

  it('refuses negative, non-integer and too large tags', async () => {
    await expect(c.send(1, 1, { tag: -1 })).rejects.toMatchObject({ argument: 'tag' });
    await expect(c.send(1, 1, { tag: 0.5 })).rejects.toMatchObject({ argument: 'tag' });
    await expect(c.send(1, 1, { tag: TAG_UB + 1 })).rejects.toMatchObject({ argument: 'tag' });
    await expect(c.recv({ tag: -7 })).rejects.toMatchObject({ argument: 'tag' });
    expect(() => c.iprobe({ tag: ANY_TAG })).not.toThrow();
  });

  it('refuses an out that is not a TypedArray, and a message that does not fit out (received all the same)', async () => {
    await expect(c.recv({ source: 1, out: [0, 0] as never })).rejects.toMatchObject({ argument: 'out' });
    const d = comms[1]!;
    await d.send(new Float32Array(8), 0, { tag: 5 });
    await d.send(new Float32Array(2), 0, { tag: 6 });
    await expect(c.recv({ source: 1, tag: 5, out: new Float32Array(4) })).rejects.toMatchObject({ code: 'ERR_TSMPI_TRUNCATE', source: 1, tag: 5, messageBytes: 32, bufferBytes: 16 });
    const out = new Float32Array(4);
    const got = await c.recv<Float32Array>({ source: 1, tag: 6, out });
    expect([got.buffer === out.buffer, got.length]).toEqual([true, 2]);
  });

  it('refuses a bad source or root', async () => {
    await expect(c.recv({ source: 9 })).rejects.toMatchObject({ argument: 'source' });
    await expect(c.bcast(1, { root: 4 })).rejects.toMatchObject({ argument: 'root' });
  });

  it('refuses an uncloneable value before sending anything', async () => {
    const { comms: pair } = memoryWorld(2);
    await expect(pair[0]!.send({ f: () => 1 }, 1)).rejects.toBeInstanceOf(SerializationError);
    await new Promise((r) => setTimeout(r, 10));
    expect(pair[1]!.iprobe()).toBeUndefined();
  });

  it('refuses a reduction of a value that cannot be reduced, or an unknown op', async () => {
    await expect(c.allreduce('text' as unknown as number)).rejects.toMatchObject({ argument: 'data' });
    await expect(c.allreduce(1, { op: { name: 'SUM', commutative: true, builtin: true } })).rejects.toMatchObject({ argument: 'op' });
    expect(MAX.name).toBe('MAX');
  });

  it('refuses a per-call algorithm that cannot serve the call, or an unknown one, naming it', async () => {
    await expect(c.allreduce(1, { algorithm: 'ring' })).rejects.toMatchObject({ argument: 'algorithm', message: expect.stringContaining('ring reorders operands') });
    await expect(c.allreduce(new Float64Array(8), { algorithm: 'rign' as 'ring' })).rejects.toMatchObject({ argument: 'algorithm', message: expect.stringContaining('"rign"') });
  });

  it('refuses a scatter whose root data is not one value per rank', async () => {
    await expect(c.scatter([1, 2])).rejects.toMatchObject({ argument: 'data' });
  });

  it('throws NotInitializedError when the world is asked for before init()', () => {
    expect(() => world()).toThrow(NotInitializedError);
  });
});
