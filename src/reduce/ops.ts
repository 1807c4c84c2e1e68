/**
 * Built-in reduction operations (MPI-4.0 §6.9.2 "Predefined Reduction
 * Operations") on TypedArrays, numbers and bigints.
 *
 * Element-wise kernels compute `inout[i] = op(inout[i], in[i])` with the
 * arithmetic of the array's element type (integer arrays wrap on overflow as
 * TypedArray stores do). MIN and MAX follow C's `a < b ? a : b`, so results
 * do not depend on the backend.
 */
import { isTypedArray, type TypedArray } from '../datatype.js';
import { InvalidArgumentError } from '../errors.js';

/** The name of a built-in reduction op. */
export type OpName = 'SUM' | 'PROD' | 'MIN' | 'MAX';

/** A reduction operation. Built-ins are the exported constants. */
export interface Op {
  readonly name: OpName;
  /** True for every built-in op. */
  readonly commutative: boolean;
}

/** Sum (`MPI_SUM`). */
export const SUM: Op = Object.freeze({ name: 'SUM', commutative: true });
/** Product (`MPI_PROD`). */
export const PROD: Op = Object.freeze({ name: 'PROD', commutative: true });
/** Minimum (`MPI_MIN`). */
export const MIN: Op = Object.freeze({ name: 'MIN', commutative: true });
/** Maximum (`MPI_MAX`). */
export const MAX: Op = Object.freeze({ name: 'MAX', commutative: true });

const OPS = new Set<Op>([SUM, PROD, MIN, MAX]);

/** Values a built-in op reduces. */
export type Reducible = number | bigint | TypedArray;

/** Throws `InvalidArgumentError` unless `op` is a built-in op. */
export function checkOp(op: unknown): asserts op is Op {
  if (!OPS.has(op as Op)) throw new InvalidArgumentError('op', 'expected one of SUM, PROD, MIN, MAX');
}

/** Throws `InvalidArgumentError` unless `value` can be reduced by a built-in op. */
export function checkReducible(value: unknown): asserts value is Reducible {
  if (typeof value === 'number' || typeof value === 'bigint' || isTypedArray(value)) return;
  throw new InvalidArgumentError('data', 'reductions take a number, a bigint or a TypedArray');
}

type Numeric = number | bigint;

function scalar(op: OpName, a: Numeric, b: Numeric): Numeric {
  if (typeof a !== typeof b) throw new InvalidArgumentError('data', `cannot reduce a ${typeof a} with a ${typeof b}`);
  const x = a as number;
  const y = b as number;
  switch (op) {
    case 'SUM':
      return x + y;
    case 'PROD':
      return x * y;
    case 'MIN':
      return x < y ? x : y;
    case 'MAX':
      return x > y ? x : y;
  }
}

/** `inout[i] = op(inout[i], input[i])` for same-type, same-length arrays. */
export function reduceInto(op: Op, inout: TypedArray, input: TypedArray): void {
  if (inout.constructor !== input.constructor || inout.length !== input.length) {
    throw new InvalidArgumentError(
      'data',
      `cannot reduce ${inout.constructor.name}(${inout.length}) with ${input.constructor.name}(${input.length})`,
    );
  }
  // The casts let one loop serve every element type; bigint arrays only ever meet bigint arrays.
  const a = inout as Float64Array;
  const b = input as Float64Array;
  const n = a.length;
  switch (op.name) {
    case 'SUM':
      for (let i = 0; i < n; i++) a[i] = (a[i] as number) + (b[i] as number);
      break;
    case 'PROD':
      for (let i = 0; i < n; i++) a[i] = (a[i] as number) * (b[i] as number);
      break;
    case 'MIN':
      for (let i = 0; i < n; i++) a[i] = (a[i] as number) < (b[i] as number) ? (a[i] as number) : (b[i] as number);
      break;
    case 'MAX':
      for (let i = 0; i < n; i++) a[i] = (a[i] as number) > (b[i] as number) ? (a[i] as number) : (b[i] as number);
      break;
  }
}

/** `op(a, b)` for two reducible values of the same shape; arrays are reduced into `a`, which is returned. */
export function combine(op: Op, a: Reducible, b: Reducible): Reducible {
  if (isTypedArray(a) && isTypedArray(b)) {
    reduceInto(op, a, b);
    return a;
  }
  if (isTypedArray(a) || isTypedArray(b)) {
    throw new InvalidArgumentError('data', 'cannot reduce a TypedArray with a scalar');
  }
  return scalar(op.name, a, b);
}
