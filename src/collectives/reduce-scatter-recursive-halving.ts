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

/** Reduces `buf` (consumed) across ranks; returns this rank's block. `offsets` has size + 1 entries. */
export async function reduceScatterRecursiveHalving(ch: CollectiveChannel, buf: TypedArray, offsets: readonly number[], reduce: Reducer): Promise<TypedArray> {
  const { rank, size } = ch;
  let lo = 0;
  let hi = size;
  for (let mask = size >> 1; mask > 0; mask >>= 1) {
    const partner = rank ^ mask;
    const mid = (lo + hi) >> 1;
    const keepLow = rank < partner;
    const [keepLo, keepHi] = keepLow ? [lo, mid] : [mid, hi];
    const [sendLo, sendHi] = keepLow ? [mid, hi] : [lo, mid];
    const ks = offsets[keepLo]!;
    const ke = offsets[keepHi]!;
    const [, theirs] = await Promise.all([ch.sendValue(partner, buf.subarray(offsets[sendLo]!, offsets[sendHi]!)), ch.recvTyped(partner, buf, ke - ks)]);
    const mine = buf.subarray(ks, ke);
    if (partner < rank) reduce.into(mine, theirs, mine);
    else reduce.into(mine, mine, theirs);
    lo = keepLo;
    hi = keepHi;
  }
  return buf.subarray(offsets[rank]!, offsets[rank + 1]!);
}
