/**
 * Scatter from `root` along a binomial tree: the root sends each child the
 * payloads of the child's whole subtree in one message; log2(p) steps.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.2; MPICH `scatter_intra_binomial`.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import { pack, unpack, type CollectiveChannel } from './channel.js';

/** Returns this rank's payload; `payloads` (one per rank) is read only at the root. */
export async function scatterBinomial(ch: CollectiveChannel, payloads: readonly EncodedPayload[] | undefined, root: number): Promise<EncodedPayload> {
  const { rank, size } = ch;
  const relative = (rank - root + size) % size;
  const held = new Map<number, EncodedPayload>(); // by relative rank
  let mask = 1;
  if (rank === root) {
    payloads?.forEach((p, r) => held.set((r - root + size) % size, p));
    while (mask < size) mask <<= 1;
  } else {
    while (mask < size && !(relative & mask)) mask <<= 1;
    for (const [slot, p] of unpack(await ch.recv((relative - mask + root) % size))) held.set(slot, p);
  }
  const sends: Promise<unknown>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    const child = relative + mask;
    if (child >= size) continue;
    const subtree: Array<[number, EncodedPayload]> = [];
    for (let v = child; v < Math.min(child + mask, size); v++) subtree.push([v, held.get(v) as EncodedPayload]);
    sends.push(ch.send((child + root) % size, pack(subtree)));
  }
  await Promise.all(sends);
  return held.get(relative) as EncodedPayload;
}
