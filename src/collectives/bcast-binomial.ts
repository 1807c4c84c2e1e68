/**
 * Broadcast along a binomial tree rooted at `root`: ceil(log2 size) steps,
 * each rank receives once from its parent, then forwards the payload bytes
 * (never re-encoded) to its children, largest subtree first.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.1 (MPICH's short-message bcast).
 */
import { InvalidArgumentError } from '../errors.js';
import type { EncodedPayload } from '../p2p/payload.js';
import type { CollectiveChannel } from './channel.js';

/** Returns the root's payload on every rank. `payload` is read only at the root. */
export async function bcastBinomial(
  ch: CollectiveChannel,
  payload: EncodedPayload | undefined,
  root: number,
): Promise<EncodedPayload> {
  const { rank, size } = ch;
  const relative = (rank - root + size) % size;
  let data = payload;
  let mask = 1;
  while (mask < size) {
    if (relative & mask) {
      data = await ch.recv((relative - mask + root) % size);
      break;
    }
    mask <<= 1;
  }
  if (data === undefined) throw new InvalidArgumentError('data', 'bcast: the root has no payload');
  const sends: Promise<unknown>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (relative + mask < size) sends.push(ch.send((relative + mask + root) % size, data));
  }
  await Promise.all(sends);
  return data;
}
