/**
 * Gather to `root` along a binomial tree: each rank collects its subtree's
 * payloads and sends them to its parent in one message; log2(p) steps
 * instead of p - 1 messages into the root. Payload bytes are passed on as
 * they are (TypedArrays are not re-encoded).
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.2; MPICH `gather_intra_binomial`.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import { pack, unpack, type CollectiveChannel } from './channel.js';

/** At the root, every rank's payload by rank; elsewhere `undefined`. */
export async function gatherBinomial(ch: CollectiveChannel, payload: EncodedPayload, root: number): Promise<EncodedPayload[] | undefined> {
  const { rank, size } = ch;
  const relative = (rank - root + size) % size;
  const mine: Array<readonly [number, EncodedPayload]> = [[rank, payload]];
  for (let mask = 1; mask < size; mask <<= 1) {
    if (relative & mask) {
      await ch.send((relative - mask + root) % size, pack(mine));
      return undefined;
    }
    const child = relative + mask;
    if (child < size) mine.push(...unpack(await ch.recv((child + root) % size)));
  }
  const all: EncodedPayload[] = new Array<EncodedPayload>(size);
  for (const [slot, p] of mine) all[slot] = p;
  return all;
}
