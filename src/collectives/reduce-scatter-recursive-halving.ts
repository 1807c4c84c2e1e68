/**
 * Reduce-scatter by recursive halving (power-of-two sizes, commutative ops):
 * in step k rank r keeps half of its current range of blocks and sends the
 * other half to r XOR (p / 2^(k+1)), which reduces it; log2(p) steps, each
 * rank sends about (p-1)/p of the vector.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.6.
 */
import type { TypedArray } from '../datatype.js';
import type { CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { halvingReduceScatter } from './recursive-halving.js';

/** Reduces `buf` (consumed) across ranks; returns this rank's block. `offsets` has size + 1 entries. */
export async function reduceScatterRecursiveHalving(ch: CollectiveChannel, buf: TypedArray, offsets: readonly number[], reduce: Reducer): Promise<TypedArray> {
  await halvingReduceScatter(ch, buf, reduce, { pof2: ch.size, newrank: ch.rank, toRank: (r) => r }, offsets);
  return buf.subarray(offsets[ch.rank] as number, offsets[ch.rank + 1] as number);
}
