/**
 * Reduce for long messages with commutative ops (Rabenseifner): a
 * reduce-scatter by recursive halving, then every block goes straight to the
 * root. Each rank sends about (1 + 1/p) of the vector instead of log2(p) times it.
 * Source: Rabenseifner (2004); Thakur, Rabenseifner & Gropp (2005) §4.3.
 */
import type { TypedArray } from '../datatype.js';
import { blockOffsets, type CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';
import { foldToPowerOfTwo, halvingReduceScatter } from './recursive-halving.js';

/** Reduces `buf` (consumed) to `root`; returns the result at the root, `undefined` elsewhere. */
export async function reduceScatterGather(ch: CollectiveChannel, buf: TypedArray, reduce: Reducer, root: number): Promise<TypedArray | undefined> {
  const group = await foldToPowerOfTwo(ch, buf, reduce);
  const { pof2, newrank, toRank } = group;
  const offsets = blockOffsets(buf.length, pof2);
  if (newrank >= 0) {
    await halvingReduceScatter(ch, buf, reduce, group, offsets);
    // This rank now owns block `newrank` of the result.
    if (ch.rank !== root) await ch.sendValue(root, buf.subarray(offsets[newrank] as number, offsets[newrank + 1] as number));
  }
  if (ch.rank !== root) return undefined;
  const receives: Array<Promise<void>> = [];
  for (let nr = 0; nr < pof2; nr++) {
    const owner = toRank(nr);
    if (owner === ch.rank) continue;
    const s = offsets[nr] as number;
    const e = offsets[nr + 1] as number;
    receives.push(ch.recvTyped(owner, buf, e - s).then((block) => (buf as Float64Array).set(block as Float64Array, s)));
  }
  await Promise.all(receives);
  return buf;
}
