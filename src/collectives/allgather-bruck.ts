/**
 * Allgather by Bruck's algorithm, for short messages and any size: in step k
 * rank r sends what it has to r - 2^k and receives from r + 2^k;
 * ⌈log2 p⌉ steps.
 * Source: Bruck, Ho, Kipnis, Upfal & Weathersby, "Efficient algorithms for
 * all-to-all communications in multiport message-passing systems" (IEEE TPDS 1997);
 * Thakur, Rabenseifner & Gropp (2005) §4.5.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import { pack, unpack, type CollectiveChannel } from './channel.js';

/** Every rank's payload, by rank. */
export async function allgatherBruck(ch: CollectiveChannel, payload: EncodedPayload): Promise<EncodedPayload[]> {
  const { rank, size } = ch;
  const have: Array<[number, EncodedPayload]> = [[rank, payload]]; // ranks rank, rank+1, ... in order
  for (let distance = 1; distance < size; distance <<= 1) {
    const count = Math.min(distance, size - distance);
    const to = (rank - distance + size) % size;
    const from = (rank + distance) % size;
    const [, theirs] = await Promise.all([ch.send(to, pack(have.slice(0, count))), ch.recv(from)]);
    have.push(...unpack(theirs));
  }
  const all = new Array<EncodedPayload>(size);
  for (const [slot, p] of have) all[slot] = p;
  return all;
}
