/**
 * All-to-all by Bruck's algorithm, for tiny blocks: ⌈log2 p⌉ steps; in step
 * k every rank forwards, to r + 2^k, the blocks whose (rotated) destination
 * index has bit k set. Fewer, larger messages than pairwise exchange.
 * Source: Bruck et al. (IEEE TPDS 1997); Thakur, Rabenseifner & Gropp (2005) §4.7.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import { pack, unpack, type CollectiveChannel } from './channel.js';

/** `payloads[i]` goes to rank i; returns what every rank sent to this one, by rank. */
export async function alltoallBruck(ch: CollectiveChannel, payloads: readonly EncodedPayload[]): Promise<EncodedPayload[]> {
  const { rank, size } = ch;
  // slot j holds the block that must travel j ranks forward; it is tagged with its source.
  const slots = new Array<[number, EncodedPayload]>(size);
  for (let j = 0; j < size; j++) slots[j] = [rank, payloads[(rank + j) % size] as EncodedPayload];
  for (let bit = 1; bit < size; bit <<= 1) {
    const moving: Array<[number, EncodedPayload]> = [];
    for (let j = 0; j < size; j++) if (j & bit) moving.push([j, pack([slots[j]!])]);
    const to = (rank + bit) % size;
    const from = (rank - bit + size) % size;
    const [, theirs] = await Promise.all([ch.send(to, pack(moving)), ch.recv(from)]);
    for (const [j, packed] of unpack(theirs)) {
      const [[source, block]] = unpack(packed) as [[number, EncodedPayload]];
      slots[j] = [source, block];
    }
  }
  const out = new Array<EncodedPayload>(size);
  for (const [source, block] of slots) out[source] = block;
  return out;
}
