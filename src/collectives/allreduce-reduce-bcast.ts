/**
 * Allreduce as a reduce to rank 0 followed by a binomial broadcast. Rank 0
 * combines the contributions strictly in rank order, (((x0 op x1) op x2) ...),
 * so the result is deterministic and every rank receives the same bytes.
 * Linear in size; recursive doubling and Rabenseifner's algorithm come with
 * the size-aware algorithms.
 */
import type { Op, Reducible } from '../reduce/ops.js';
import { combine } from '../reduce/ops.js';
import { bcastBinomial } from './bcast-binomial.js';
import { cloneValue, decode, encode, type CollectiveChannel } from './channel.js';

export async function allreduceReduceBcast(ch: CollectiveChannel, value: Reducible, op: Op): Promise<Reducible> {
  if (ch.rank !== 0) {
    await ch.send(0, encode(value));
    return decode(await bcastBinomial(ch, undefined, 0)) as Reducible;
  }
  let acc = cloneValue(value) as Reducible;
  for (let source = 1; source < ch.size; source++) {
    acc = combine(op, acc, decode(await ch.recv(source)) as Reducible);
  }
  await bcastBinomial(ch, encode(acc), 0);
  return acc;
}
