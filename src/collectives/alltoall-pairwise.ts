/**
 * All-to-all by pairwise exchange: in step k rank r sends its block for
 * r + k and receives the block from r - k (XOR partners when the size is a
 * power of two); p - 1 steps, one message in flight each way.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.7; MPICH `alltoall_intra_pairwise`.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import type { CollectiveChannel } from './channel.js';

/** `payloads[i]` goes to rank i; returns what every rank sent to this one, by rank. */
export async function alltoallPairwise(ch: CollectiveChannel, payloads: readonly EncodedPayload[]): Promise<EncodedPayload[]> {
  const { rank, size } = ch;
  const out = new Array<EncodedPayload>(size);
  out[rank] = payloads[rank] as EncodedPayload;
  const pow2 = (size & (size - 1)) === 0;
  for (let k = 1; k < size; k++) {
    const to = pow2 ? rank ^ k : (rank + k) % size;
    const from = pow2 ? rank ^ k : (rank - k + size) % size;
    const [, theirs] = await Promise.all([ch.send(to, payloads[to] as EncodedPayload), ch.recv(from)]);
    out[from] = theirs;
  }
  return out;
}
