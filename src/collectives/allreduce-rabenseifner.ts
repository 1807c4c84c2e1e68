/**
 * Rabenseifner's allreduce for medium and long messages with commutative
 * ops: a reduce-scatter by recursive halving leaves each of the 2^⌊log2 p⌋
 * participating ranks with one reduced block, then an allgather by recursive
 * doubling spreads the blocks. A non-power-of-two size folds ranks 2i into
 * 2i+1 first. Each block is reduced by exactly one rank, so every rank
 * receives the same bytes.
 * Source: Rabenseifner, "Optimization of collective reduction operations" (ICCS 2004);
 * Thakur, Rabenseifner & Gropp (2005) §4.4.
 */
import type { TypedArray } from '../datatype.js';
import { blockOffsets, type CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { foldToPowerOfTwo, halvingReduceScatter } from './recursive-halving.js';

/** Reduces `buf` (this rank's contribution) in place across all ranks. */
export async function allreduceRabenseifner(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer): Promise<void> {
  const { rank, size } = ch;
  const group = await foldToPowerOfTwo(ch, buf, reduce);
  const { pof2, newrank, toRank } = group;
  if (newrank >= 0) {
    const offsets = blockOffsets(buf.length, pof2);
    await halvingReduceScatter(ch, buf, reduce, group, offsets);
    // Allgather by recursive doubling: the owned range of blocks doubles each step.
    let lo = newrank;
    let hi = newrank + 1;
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const partnerNew = newrank ^ mask;
      const width = hi - lo;
      const [plo, phi] = partnerNew < newrank ? [lo - width, lo] : [hi, hi + width];
      const ps = offsets[plo] as number;
      const pe = offsets[phi] as number;
      const partner = toRank(partnerNew);
      const [, theirs] = await Promise.all([
        ch.sendValue(partner, buf.subarray(offsets[lo] as number, offsets[hi] as number)),
        ch.recvTyped(partner, buf, pe - ps),
      ]);
      (buf as Float64Array).set(theirs as Float64Array, ps);
      lo = Math.min(lo, plo);
      hi = Math.max(hi, phi);
    }
  }
  // Unfold: the ranks folded out get the result from their partner.
  const rem = size - pof2;
  if (rank < 2 * rem) {
    if (rank % 2 === 1) await ch.sendValue(rank - 1, buf);
    else (buf as Float64Array).set((await ch.recvTyped(rank + 1, buf, buf.length)) as Float64Array);
  }
}
