/**
 * Inclusive and exclusive prefix reductions by recursive doubling: in step k
 * rank r swaps its partial sum with r XOR 2^k and folds in what came from
 * below it; ⌈log2 p⌉ steps. Lower ranks stay on the left, so
 * non-commutative ops are safe.
 * Source: MPICH `scan_intra_recursive_doubling`; Thakur, Rabenseifner & Gropp (2005).
 */
import type { CollectiveChannel } from './channel.js';
import { cloneValue } from './channel.js';
import type { Reducer } from './reducer.js';

/** The reduction over ranks 0..rank (`inclusive`) or 0..rank-1 (exclusive; `undefined` at rank 0). `value` may be consumed. */
export async function scanRecursiveDoubling(ch: CollectiveChannel, value: unknown, reduce: Reducer, inclusive: boolean): Promise<unknown> {
  const { rank, size } = ch;
  let partial = value; // the reduction over this rank's current hypercube
  let result: unknown = inclusive ? cloneValue(value) : undefined;
  for (let mask = 1; mask < size; mask <<= 1) {
    const partner = rank ^ mask;
    if (partner >= size) continue;
    const [, theirs] = await Promise.all([ch.sendValue(partner, partial), ch.recvValue(partner)]);
    if (partner < rank) {
      result = result === undefined ? cloneValue(theirs) : reduce.values(cloneValue(theirs), result);
      partial = reduce.values(theirs, partial);
    } else {
      partial = reduce.values(partial, theirs);
    }
  }
  return result;
}
