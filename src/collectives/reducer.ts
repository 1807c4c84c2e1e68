/**
 * How algorithms combine partial results: always `lower op higher`, where
 * `lower` holds the contributions of lower ranks, so that results are
 * bitwise the same on every rank and from run to run, and non-commutative
 * ops see their operands in rank order.
 */
import { isTypedArray, type TypedArray } from '../datatype.js';
import { combine, reduceInto, type HalfType, type Op } from '../reduce/ops.js';

export interface Reducer {
  readonly op: Op;
  readonly half: HalfType | undefined;
  /** `lower op higher` on whole values; may reuse (and return) either argument's storage. */
  values(lower: unknown, higher: unknown): unknown;
  /** `target = lower op higher` for equal-length segments, where `target` is one of the two. */
  into(target: TypedArray, lower: TypedArray, higher: TypedArray): void;
}

/** The reducer of `op` (and, for Uint16Array data, half type `half`); kernels run native when the addon is loaded. */
export function reducer(op: Op, half: HalfType | undefined): Reducer {
  return {
    op,
    half,
    values: (lower, higher) => (isTypedArray(lower) ? (reduceInto(op, lower, higher as TypedArray, half), lower) : combine(op, lower, higher, half)),
    into: (target, lower, higher) => {
      reduceInto(op, lower, higher, half);
      if (target !== lower) (target as Float64Array).set(lower as Float64Array);
    },
  };
}
