/**
 * Reduce for long messages with commutative ops (Rabenseifner): a
 * reduce-scatter by recursive halving, then every block goes straight to the
 * root. Each rank sends about (1 + 1/p) of the vector instead of log2(p) times it.
 * Source: Rabenseifner (2004); Thakur, Rabenseifner & Gropp (2005) §4.3.
 */
import type { TypedArray } from '../datatype.js';
import { blocks, type CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { floorPow2 } from './tuning.js';

/** Reduces `buf` (consumed) to `root`; returns the result at the root, `undefined` elsewhere. */
export async function reduceScatterGather(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer, root: number): Promise<TypedArray | undefined> {
  const { rank, size } = ch;
  const pof2 = floorPow2(size);
  const rem = size - pof2;
  let newrank: number;
  if (rank < 2 * rem) {
    if (rank % 2 === 0) {
      await ch.sendValue(rank + 1, buf);
      newrank = -1;
    } else {
      reduce.into(buf, await ch.recvTyped(rank - 1, buf, buf.length), buf);
      newrank = rank >> 1;
    }
  } else {
    newrank = rank - rem;
  }
  const toRank = (nr: number): number => (nr < rem ? nr * 2 + 1 : nr + rem);
  const parts = blocks(buf.length, pof2);
  const span = (lo: number, hi: number): [number, number] => [parts[lo]![0], parts[hi - 1]![1]];
  if (newrank >= 0) {
    let lo = 0;
    let hi = pof2;
    for (let mask = pof2 >> 1; mask > 0; mask >>= 1) {
      const partnerNew = newrank ^ mask;
      const mid = (lo + hi) >> 1;
      const keepLow = newrank < partnerNew;
      const [keepLo, keepHi] = keepLow ? [lo, mid] : [mid, hi];
      const [ss, se] = keepLow ? span(mid, hi) : span(lo, mid);
      const [ks, ke] = span(keepLo, keepHi);
      const partner = toRank(partnerNew);
      const [, theirs] = await Promise.all([ch.sendValue(partner, buf.subarray(ss, se)), ch.recvTyped(partner, buf, ke - ks)]);
      const mine = buf.subarray(ks, ke);
      if (partnerNew < newrank) reduce.into(mine, theirs, mine);
      else reduce.into(mine, mine, theirs);
      lo = keepLo;
      hi = keepHi;
    }
    // This rank now owns block `newrank` of the result.
    if (rank !== root) await ch.sendValue(root, buf.subarray(...span(newrank, newrank + 1)));
  }
  if (rank !== root) return undefined;
  const result = buf;
  const receives: Array<Promise<void>> = [];
  for (let nr = 0; nr < pof2; nr++) {
    const owner = toRank(nr);
    if (owner === rank) continue;
    const [s, e] = span(nr, nr + 1);
    receives.push(ch.recvTyped(owner, buf, e - s).then((block) => (result as Float64Array).set(block as Float64Array, s)));
  }
  await Promise.all(receives);
  return result;
}
