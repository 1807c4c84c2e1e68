/**
 * Scatter from `root` by direct sends: the root sends payload i to rank i.
 * Linear in size; the binomial scatter comes with the size-aware algorithms.
 */
import type { EncodedPayload } from '../p2p/payload.js';
import type { CollectiveChannel } from './channel.js';

/** Returns this rank's payload. `payloads` (one per rank) is read only at the root. */
export async function scatterLinear(
  ch: CollectiveChannel,
  payloads: readonly EncodedPayload[] | undefined,
  root: number,
): Promise<EncodedPayload> {
  if (ch.rank !== root) return ch.recv(root);
  if (payloads === undefined || payloads.length !== ch.size) throw new Error('scatter: the root needs one payload per rank');
  const sends: Promise<void>[] = [];
  for (let dest = 0; dest < ch.size; dest++) {
    const payload = payloads[dest];
    if (dest !== root && payload !== undefined) sends.push(ch.send(dest, payload));
  }
  await Promise.all(sends);
  return payloads[root] as EncodedPayload;
}
