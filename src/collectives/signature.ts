/**
 * Collective signatures: what a rank believes the current collective call
 * is. Every collective message carries its sender's signature; a receiver
 * whose own differs raises {@link CollectiveMismatchError} instead of
 * hanging or computing garbage (no other MPI checks this by default).
 */
import { Datatype } from '../datatype.js';
import { MpiError } from '../errors.js';
import { BFLOAT16, FLOAT16, OP_CODES } from '../reduce/ops.js';
import type { CollSignature } from '../transport/transport.js';

/** Collective kinds, as carried on the wire. */
export const CollKind = {
  barrier: 1,
  bcast: 2,
  scatter: 3,
  scatterv: 4,
  gather: 5,
  gatherv: 6,
  allgather: 7,
  allgatherv: 8,
  reduce: 9,
  allreduce: 10,
  reduceScatter: 11,
  alltoall: 12,
  alltoallv: 13,
  scan: 14,
  exscan: 15,
  split: 16,
  dup: 17,
} as const;

/** Datatype code of a collective's object (serialized) form; the half types' codes live in reduce/ops.ts. */
export const OBJECT_FORM = 200;

/** What a rank believes the current collective call is (the wire form of `CollSignature`). */
export type Signature = CollSignature;

const kindName = (k: number): string => Object.entries(CollKind).find(([, v]) => v === k)?.[0] ?? `collective ${k}`;
const datatypeName = (d: number): string =>
  d === OBJECT_FORM ? 'objects' : d === FLOAT16 ? 'float16' : d === BFLOAT16 ? 'bfloat16' : (Object.entries(Datatype).find(([, v]) => v === d)?.[0]?.toLowerCase() ?? `datatype ${d}`);
const opName = (o: number): string => (o === 100 ? 'a user op' : (Object.entries(OP_CODES).find(([, v]) => v === o)?.[0] ?? `op ${o}`));

/** A readable rendering, e.g. `bcast(root 0, 1000 float64)`. */
export function describeSignature(s: Signature, algName?: (alg: number) => string): string {
  const parts: string[] = [];
  if (s.root >= 0) parts.push(`root ${s.root}`);
  if (s.count >= 0 || s.datatype !== 0) parts.push(`${s.count >= 0 ? `${s.count} ` : ''}${s.datatype ? datatypeName(s.datatype) : 'elements'}`);
  if (s.op) parts.push(opName(s.op));
  if (s.alg && algName) parts.push(`algorithm ${algName(s.alg)}`);
  return `${kindName(s.kind)}(${parts.join(', ')})`;
}

/** Why two signatures of the same call disagree, or `undefined` when they agree. Unknown fields (-1 / 0) match anything. */
export function signatureMismatch(mine: Signature, theirs: Signature): string | undefined {
  if (mine.kind !== theirs.kind) return 'different collectives';
  if (mine.root !== theirs.root) return 'different roots';
  if (mine.op !== theirs.op) return 'different ops';
  if (mine.datatype && theirs.datatype && mine.datatype !== theirs.datatype) return 'different datatypes';
  if (mine.count >= 0 && theirs.count >= 0 && mine.count !== theirs.count) return 'different counts';
  if (mine.alg && theirs.alg && mine.alg !== theirs.alg) return 'different algorithms';
  return undefined;
}

/** Ranks called different collectives (or the same one with different arguments) at the same point. */
export class CollectiveMismatchError extends MpiError {
  /** This rank (in the communicator). */
  readonly rank: number;
  /** The peer whose call differs. */
  readonly peer: number;
  /** This rank's call, rendered: `bcast(root 0, 1000 float64)`. */
  readonly mine: string;
  /** The peer's call, rendered. */
  readonly theirs: string;

  constructor(fields: { rank: number; peer: number; mine: string; theirs: string; reason: string; seq: number }) {
    super(
      'ERR_TSMPI_COLLECTIVE_MISMATCH',
      `collective #${fields.seq}: rank ${fields.rank} called ${fields.mine} but rank ${fields.peer} called ${fields.theirs} (${fields.reason})`,
    );
    this.rank = fields.rank;
    this.peer = fields.peer;
    this.mine = fields.mine;
    this.theirs = fields.theirs;
  }
}
