/**
 * Reduce-scatter by pairwise exchange, for long messages, any size and any
 * op: in step k rank r sends block r + k to that rank and receives its own
 * block from r - k; the contributions are then combined in rank order.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.6.
 */
import type { TypedArray } from '../datatype.js';
import { cloneValue, type CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';

/** Reduces `buf` across ranks; returns this rank's block (a new array). `offsets` has size + 1 entries. */
export async function reduceScatterPairwise(ch: CollectiveChannel, buf: TypedArray, offsets: readonly number[], reduce: Reducer): Promise<TypedArray> {
  const { rank, size } = ch;
  const start = offsets[rank]!;
  const end = offsets[rank + 1]!;
  const contributions = new Array<TypedArray>(size);
  contributions[rank] = buf.subarray(start, end);
  const steps: Promise<unknown>[] = [];
  for (let k = 1; k < size; k++) {
    const to = (rank + k) % size;
    const from = (rank - k + size) % size;
    steps.push(ch.sendValue(to, buf.subarray(offsets[to]!, offsets[to + 1]!)));
    steps.push(ch.recvTyped(from, buf, end - start).then((block) => void (contributions[from] = block)));
  }
  await Promise.all(steps);
  let acc = cloneValue(contributions[0]!);
  for (let r = 1; r < size; r++) acc = reduce.values(acc, contributions[r]) as TypedArray;
  return acc;
}
