/**
 * Allreduce by recursive doubling, for short messages and any op: in step k
 * rank r exchanges its partial result with r XOR 2^k; log2(p) steps. A
 * non-power-of-two size first folds ranks 2i into 2i+1 (for i < p - 2^⌊log2 p⌋)
 * and sends them the result at the end. Partials always cover contiguous
 * rank ranges and combine lower-on-the-left, so non-commutative ops are safe.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.4; MPICH `allreduce_intra_recursive_doubling`.
 */
import type { CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { floorPow2 } from './tuning.js';

/** Returns the reduction of every rank's `value` (which it may consume: pass a private copy). */
export async function allreduceRecursiveDoubling(ch: CollectiveChannel, value: unknown, reduce: Reducer): Promise<unknown> {
  const { rank, size } = ch;
  const pof2 = floorPow2(size);
  const rem = size - pof2;
  let acc = value;
  let newrank: number;
  if (rank < 2 * rem) {
    if (rank % 2 === 0) {
      await ch.sendValue(rank + 1, acc);
      newrank = -1;
    } else {
      acc = reduce.values(await ch.recvValue(rank - 1), acc);
      newrank = rank >> 1;
    }
  } else {
    newrank = rank - rem;
  }
  if (newrank >= 0) {
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const newpartner = newrank ^ mask;
      const partner = newpartner < rem ? newpartner * 2 + 1 : newpartner + rem;
      const [, theirs] = await Promise.all([ch.sendValue(partner, acc), ch.recvValue(partner)]);
      acc = partner < rank ? reduce.values(theirs, acc) : reduce.values(acc, theirs);
    }
  }
  if (rank < 2 * rem) {
    if (rank % 2 === 1) await ch.sendValue(rank - 1, acc);
    else acc = await ch.recvValue(rank + 1);
  }
  return acc;
}
