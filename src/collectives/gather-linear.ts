/**
 * Gather to `root` by direct sends: every rank sends its payload to the root,
 * which receives from each rank in rank order. Linear in size; the binomial
 * gather comes with the size-aware algorithms.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import type { CollectiveChannel } from './channel.js';

/** At the root, the payloads of ranks 0..size-1 (its own included, as given); elsewhere `undefined`. */
export async function gatherLinear(
  ch: CollectiveChannel,
  payload: EncodedPayload,
  root: number,
): Promise<EncodedPayload[] | undefined> {
  if (ch.rank !== root) {
    await ch.send(root, payload);
    return undefined;
  }
  const all: EncodedPayload[] = [];
  for (let source = 0; source < ch.size; source++) {
    all.push(source === root ? payload : await ch.recv(source));
  }
  return all;
}
