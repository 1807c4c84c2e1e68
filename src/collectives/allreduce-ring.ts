/**
 * Ring allreduce for long messages with commutative ops: a ring
 * reduce-scatter (p-1 steps, each rank reduces one block per step) followed
 * by a ring allgather (p-1 steps). Bandwidth-optimal: each rank sends and
 * receives 2(p-1)/p of the vector. Each step's block travels in segments so
 * that receiving, reducing and sending overlap. Each block is reduced by
 * one chain of ranks in a fixed order, so every rank receives the same bytes.
 * Source: Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for
 * clusters of workstations" (JPDC 2009); Gloo `allreduce_ring.cc`.
 */
import type { TypedArray } from '../datatype.js';
import { blocks, type CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';

/** Reduces `buf` in place across all ranks; `segmentElements` is the pipelining unit. */
export async function allreduceRing(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer, segmentElements: number): Promise<void> {
  const { rank, size } = ch;
  if (size === 1) return;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  const parts = blocks(buf.length, size);
  const segments = ([start, end]: [number, number]): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let s = start; s < end; s += segmentElements) out.push([s, Math.min(end, s + segmentElements)]);
    return out;
  };
  // Reduce-scatter: in step s, send block (rank - s) and reduce the incoming block (rank - s - 1) into ours.
  for (let step = 0; step < size - 1; step++) {
    const sendBlock = parts[(rank - step + size) % size]!;
    const recvBlock = parts[(rank - step - 1 + 2 * size) % size]!;
    const sends = Promise.all(segments(sendBlock).map(([s, e]) => ch.sendValue(right, buf.subarray(s, e))));
    for (const [s, e] of segments(recvBlock)) {
      const incoming = await ch.recvTyped(left, buf, e - s);
      const mine = buf.subarray(s, e);
      reduce.into(mine, incoming, mine); // the partial from the left is the chain's earlier part
    }
    await sends;
  }
  // Allgather: block (rank + 1) is complete here; pass complete blocks around.
  for (let step = 0; step < size - 1; step++) {
    const sendBlock = parts[(rank + 1 - step + size) % size]!;
    const recvBlock = parts[(rank - step + size) % size]!;
    const sends = Promise.all(segments(sendBlock).map(([s, e]) => ch.sendValue(right, buf.subarray(s, e))));
    for (const [s, e] of segments(recvBlock)) {
      (buf as Float64Array).set((await ch.recvTyped(left, buf, e - s)) as Float64Array, s);
    }
    await sends;
  }
}
