/**
 * Allgather around a ring, for long messages: in each of p - 1 steps every
 * rank passes the block it received last to its right neighbour.
 * Bandwidth-optimal; blocks travel as raw payloads, never repacked.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.5.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import type { CollectiveChannel } from './channel.js';

/** Every rank's payload, by rank. */
export async function allgatherRing(ch: CollectiveChannel, payload: EncodedPayload): Promise<EncodedPayload[]> {
  const { rank, size } = ch;
  const all = new Array<EncodedPayload>(size);
  all[rank] = payload;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  for (let step = 0; step < size - 1; step++) {
    const sendSlot = (rank - step + size) % size;
    const recvSlot = (rank - step - 1 + size) % size;
    const [, theirs] = await Promise.all([ch.send(right, all[sendSlot] as EncodedPayload), ch.recv(left)]);
    all[recvSlot] = theirs;
  }
  return all;
}
