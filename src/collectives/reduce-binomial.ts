/**
 * Reduce to `root` along a binomial tree: log2(p) steps; a parent combines
 * a child's subtree (a contiguous range of higher ranks) on the right. For
 * commutative ops the tree is rooted at `root`; otherwise it is rooted at
 * rank 0, so operands stay in rank order, and rank 0 forwards the result.
 * Source: Thakur, Rabenseifner & Gropp (2005) §4.3; MPICH `reduce_intra_binomial`.
 */
import type { CollectiveChannel } from './channel.js';
import type { Reducer } from './reducer.js';

/** The reduction at `root`; `undefined` elsewhere. `value` may be consumed: pass a private copy. */
export async function reduceBinomial(ch: CollectiveChannel, value: unknown, reduce: Reducer, root: number): Promise<unknown> {
  const { rank, size } = ch;
  const treeRoot = reduce.op.commutative ? root : 0;
  const relative = (rank - treeRoot + size) % size;
  let acc = value;
  for (let mask = 1; mask < size; mask <<= 1) {
    if ((relative & mask) === 0) {
      const child = relative | mask;
      if (child < size) acc = reduce.values(acc, await ch.recvValue((child + treeRoot) % size));
    } else {
      await ch.sendValue(((relative & ~mask) + treeRoot) % size, acc);
      acc = undefined;
      break;
    }
  }
  if (treeRoot !== root) {
    if (rank === treeRoot) {
      await ch.sendValue(root, acc);
      return undefined;
    }
    if (rank === root) return ch.recvValue(treeRoot);
  }
  return rank === root ? acc : undefined;
}
