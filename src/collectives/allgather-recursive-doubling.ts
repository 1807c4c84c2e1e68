/**
 * Allgather by recursive doubling (power-of-two sizes): in step k rank r
 * swaps everything it has with r XOR 2^k; log2(p) steps.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.5.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import { pack, unpack, type CollectiveChannel } from './channel.js';

/** Every rank's payload, by rank. Requires a power-of-two size. */
export async function allgatherRecursiveDoubling(ch: CollectiveChannel, payload: EncodedPayload): Promise<EncodedPayload[]> {
  const { rank, size } = ch;
  const have: Array<[number, EncodedPayload]> = [[rank, payload]];
  for (let mask = 1; mask < size; mask <<= 1) {
    const partner = rank ^ mask;
    const [, theirs] = await Promise.all([ch.send(partner, pack(have)), ch.recv(partner)]);
    have.push(...unpack(theirs));
  }
  const all = new Array<EncodedPayload>(size);
  for (const [slot, p] of have) all[slot] = p;
  return all;
}
