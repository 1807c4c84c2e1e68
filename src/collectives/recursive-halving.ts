/**
 * The reduce-scatter phase shared by Rabenseifner's allreduce and reduce and
 * by the recursive-halving reduce-scatter: fold a non-power-of-two size onto
 * 2^⌊log2 p⌋ ranks, then halve the range of blocks each rank is responsible
 * for in every step, reducing the half it keeps.
 * Source: Rabenseifner (ICCS 2004); Thakur, Rabenseifner & Gropp (2005) §4.4, §4.6.
 */
import type { TypedArray } from '../datatype.js';
import type { CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { floorPow2 } from './tuning.js';

/** The power-of-two group left after folding: this rank's place in it (-1: folded out) and each place's rank. */
export interface Folded {
  pof2: number;
  newrank: number;
  toRank(newrank: number): number;
}

/**
 * Ranks 2i send their whole vector to 2i+1 (i < p - 2^⌊log2 p⌋), which
 * reduces it (lower rank on the left) into `buf` and stays in the group.
 */
export async function foldToPowerOfTwo(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer): Promise<Folded> {
  const { rank, size } = ch;
  const pof2 = floorPow2(size);
  const rem = size - pof2;
  const toRank = (nr: number): number => (nr < rem ? nr * 2 + 1 : nr + rem);
  if (rank < 2 * rem && rank % 2 === 0) {
    await ch.sendValue(rank + 1, buf);
    return { pof2, newrank: -1, toRank };
  }
  if (rank < 2 * rem) reduce.into(buf, await ch.recvTyped(rank - 1, buf, buf.length), buf);
  return { pof2, newrank: rank < 2 * rem ? rank >> 1 : rank - rem, toRank };
}

/**
 * Recursive halving among the group: `offsets` (pof2 + 1 entries) cut `buf`
 * into pof2 blocks; afterwards this rank holds block `newrank` fully reduced.
 */
export async function halvingReduceScatter(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer, group: Folded, offsets: readonly number[]): Promise<void> {
  const { pof2, newrank, toRank } = group;
  let lo = 0;
  let hi = pof2;
  for (let mask = pof2 >> 1; mask > 0; mask >>= 1) {
    const partnerNew = newrank ^ mask;
    const mid = (lo + hi) >> 1;
    const keepLow = newrank < partnerNew;
    const [keepLo, keepHi] = keepLow ? [lo, mid] : [mid, hi];
    const [sendLo, sendHi] = keepLow ? [mid, hi] : [lo, mid];
    const ks = offsets[keepLo] as number;
    const ke = offsets[keepHi] as number;
    const partner = toRank(partnerNew);
    const [, theirs] = await Promise.all([
      ch.sendValue(partner, buf.subarray(offsets[sendLo] as number, offsets[sendHi] as number)),
      ch.recvTyped(partner, buf, ke - ks),
    ]);
    const mine = buf.subarray(ks, ke);
    if (partnerNew < newrank) reduce.into(mine, theirs, mine);
    else reduce.into(mine, mine, theirs);
    lo = keepLo;
    hi = keepHi;
  }
}
