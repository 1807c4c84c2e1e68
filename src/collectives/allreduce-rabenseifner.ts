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
import { blocks, type CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { floorPow2 } from './tuning.js';

/** Reduces `buf` (this rank's contribution) in place across all ranks. */
export async function allreduceRabenseifner(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer): Promise<void> {
  const { rank, size } = ch;
  const pof2 = floorPow2(size);
  const rem = size - pof2;
  let newrank: number;
  if (rank < 2 * rem) {
    if (rank % 2 === 0) {
      await ch.sendValue(rank + 1, buf);
      newrank = -1;
    } else {
      const lower = await ch.recvTyped(rank - 1, buf, buf.length);
      reduce.into(buf, lower, buf);
      newrank = rank >> 1;
    }
  } else {
    newrank = rank - rem;
  }
  const toRank = (nr: number): number => (nr < rem ? nr * 2 + 1 : nr + rem);
  if (newrank >= 0) {
    const parts = blocks(buf.length, pof2);
    const span = (lo: number, hi: number): [number, number] => [parts[lo]![0], parts[hi - 1]![1]];
    // Reduce-scatter by recursive halving: the range of blocks this rank is responsible for halves each step.
    let lo = 0;
    let hi = pof2;
    for (let mask = pof2 >> 1; mask > 0; mask >>= 1) {
      const partnerNew = newrank ^ mask;
      const mid = (lo + hi) >> 1;
      const keepLow = newrank < partnerNew;
      const [keepLo, keepHi] = keepLow ? [lo, mid] : [mid, hi];
      const [sendLo, sendHi] = keepLow ? [mid, hi] : [lo, mid];
      const [ss, se] = span(sendLo, sendHi);
      const [ks, ke] = span(keepLo, keepHi);
      const partner = toRank(partnerNew);
      const [, theirs] = await Promise.all([ch.sendValue(partner, buf.subarray(ss, se)), ch.recvTyped(partner, buf, ke - ks)]);
      const mine = buf.subarray(ks, ke);
      if (partnerNew < newrank) reduce.into(mine, theirs, mine);
      else reduce.into(mine, mine, theirs);
      lo = keepLo;
      hi = keepHi;
    }
    // Allgather by recursive doubling: the owned range doubles each step.
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const partnerNew = newrank ^ mask;
      const partner = toRank(partnerNew);
      const [ms, me] = span(lo, hi);
      const width = hi - lo;
      const [plo, phi] = partnerNew < newrank ? [lo - width, lo] : [hi, hi + width];
      const [ps, pe] = span(plo, phi);
      const [, theirs] = await Promise.all([ch.sendValue(partner, buf.subarray(ms, me)), ch.recvTyped(partner, buf, pe - ps)]);
      (buf as Float64Array).set(theirs as Float64Array, ps);
      lo = Math.min(lo, plo);
      hi = Math.max(hi, phi);
    }
  }
  if (rank < 2 * rem) {
    if (rank % 2 === 1) await ch.sendValue(rank - 1, buf);
    else (buf as Float64Array).set((await ch.recvTyped(rank + 1, buf, buf.length)) as Float64Array);
  }
}
