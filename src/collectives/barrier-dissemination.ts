/**
 * Barrier by dissemination: in round k every rank sends to rank + 2^k and
 * receives from rank - 2^k (mod size); ceil(log2 size) rounds.
 * Source: Hensgen, Finkel & Manber, "Two algorithms for barrier
 * synchronization" (1988); Thakur, Rabenseifner & Gropp (2005) §3.
 */
import { encodePayload } from '../p2p/payload.js';
import type { CollectiveChannel } from './channel.js';

const EMPTY = encodePayload(new Uint8Array(0));

export async function barrierDissemination(ch: CollectiveChannel): Promise<void> {
  const { rank, size } = ch;
  for (let distance = 1; distance < size; distance *= 2) {
    const to = (rank + distance) % size;
    const from = (rank - distance + size) % size;
    await Promise.all([ch.send(to, EMPTY), ch.recv(from)]);
  }
}
