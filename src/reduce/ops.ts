/**
 * Reduction operations (MPI-4.0 §6.9.2 "Predefined Reduction Operations",
 * §6.9.5 "User-Defined Reduction Operations").
 *
 * Element-wise kernels compute `inout[i] = op(inout[i], in[i])` with the
 * arithmetic of the element type: integer arrays wrap on overflow (as a
 * TypedArray store does), MIN/MAX follow C's `a < b ? a : b`, logical ops
 * give 1 or 0. Half-precision data (`float16`, `bfloat16` in Uint16Array) is
 * widened to float32, combined, and rounded back to nearest even.
 *
 * Operand order is part of the contract: collectives always combine the
 * lower ranks' partial result on the left, so results are bitwise the same
 * on every rank and from run to run.
 */
import { isTypedArray, typedArrayDatatype, type TypedArray } from '../datatype.js';
import { InvalidArgumentError } from '../errors.js';
import { bfloatToFloat, floatToBfloat, floatToHalf, halfToFloat } from './half.js';
import { nativeAddon } from './native.js';

/** Names of the built-in ops. */
export type OpName =
  | 'SUM'
  | 'PROD'
  | 'MIN'
  | 'MAX'
  | 'LAND'
  | 'LOR'
  | 'LXOR'
  | 'BAND'
  | 'BOR'
  | 'BXOR'
  | 'MINLOC'
  | 'MAXLOC';

/** A reduction operation: a built-in constant, or one made by {@link createOp}. */
export interface Op {
  /** The built-in's name, or the user op's name (default `user`). */
  readonly name: string;
  /** May the runtime reorder operands? Built-ins are; user ops say. */
  readonly commutative: boolean;
  /** True for the constants exported here. */
  readonly builtin: boolean;
  /** @internal The user function, for user ops. */
  readonly fn?: (a: unknown, b: unknown) => unknown;
}

function builtin(name: OpName): Op {
  return Object.freeze({ name, commutative: true, builtin: true });
}

/** Sum (`MPI_SUM`). */
export const SUM = builtin('SUM');
/** Product (`MPI_PROD`). */
export const PROD = builtin('PROD');
/** Minimum (`MPI_MIN`). */
export const MIN = builtin('MIN');
/** Maximum (`MPI_MAX`). */
export const MAX = builtin('MAX');
/** Logical and (`MPI_LAND`): 1 when both are non-zero, else 0. */
export const LAND = builtin('LAND');
/** Logical or (`MPI_LOR`). */
export const LOR = builtin('LOR');
/** Logical exclusive or (`MPI_LXOR`). */
export const LXOR = builtin('LXOR');
/** Bitwise and (`MPI_BAND`), integer types only. */
export const BAND = builtin('BAND');
/** Bitwise or (`MPI_BOR`), integer types only. */
export const BOR = builtin('BOR');
/** Bitwise exclusive or (`MPI_BXOR`), integer types only. */
export const BXOR = builtin('BXOR');
/**
 * Minimum value and its index (`MPI_MINLOC`): on `{ value, index }` objects,
 * or on a TypedArray of interleaved (value, index) pairs. Ties keep the smaller index.
 */
export const MINLOC = builtin('MINLOC');
/** Maximum value and its index (`MPI_MAXLOC`); see {@link MINLOC}. */
export const MAXLOC = builtin('MAXLOC');

const BUILTINS = new Set<Op>([SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR, MINLOC, MAXLOC]);

/**
 * Makes a user-defined op (MPI_Op_create). `fn(a, b)` returns `a op b`, where
 * `a` holds the lower ranks' contributions; it must not modify its arguments.
 * On TypedArrays it must be element-wise: collectives may apply it to
 * matching segments of the arrays. Non-commutative ops are only used with
 * algorithms that keep rank order.
 */
export function createOp<T>(fn: (a: T, b: T) => T, options: { commutative?: boolean; name?: string } = {}): Op {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a user op needs a function (a, b) => a op b');
  return Object.freeze({
    name: options.name ?? 'user',
    commutative: options.commutative ?? false,
    builtin: false,
    fn: fn as (a: unknown, b: unknown) => unknown,
  });
}

/** Half-precision element types, carried in Uint16Array. */
export type HalfType = 'float16' | 'bfloat16';

/** Datatype codes of the half types (beyond the TypedArray ones of `Datatype`), shared with the native addon. */
export const FLOAT16 = 201;
export const BFLOAT16 = 202;

/** Op codes on the wire and in the native addon: built-ins by name, any user op as 100. */
export const OP_CODES: Readonly<Record<string, number>> = {
  SUM: 1,
  PROD: 2,
  MIN: 3,
  MAX: 4,
  LAND: 5,
  LOR: 6,
  LXOR: 7,
  BAND: 8,
  BOR: 9,
  BXOR: 10,
  MINLOC: 11,
  MAXLOC: 12,
};

/** The code of `op` (0 for none). */
export function opCode(op: { name: string; builtin: boolean } | undefined): number {
  if (op === undefined) return 0;
  return op.builtin ? (OP_CODES[op.name] ?? 99) : 100;
}

/** Throws `InvalidArgumentError` unless `op` is an op. */
export function checkOp(op: unknown): asserts op is Op {
  if (BUILTINS.has(op as Op)) return;
  const o = op as Partial<Op> | undefined;
  if (o && o.builtin === false && typeof o.fn === 'function') return;
  throw new InvalidArgumentError('op', 'expected a built-in op (SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR, MINLOC, MAXLOC) or one from createOp()');
}

const INTEGER_ARRAYS = new Set<unknown>([
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
  Buffer,
]);

/**
 * Checks that `op` can reduce `value` (and `half`, when given). Throws
 * `InvalidArgumentError` before anything is sent: bitwise ops on float
 * data, a half type on anything but a Uint16Array, MINLOC/MAXLOC on an
 * odd-length array, built-ins on values that are not numbers, bigints or TypedArrays.
 */
export function checkReducible(op: Op, value: unknown, half?: HalfType): void {
  if (half !== undefined) {
    if (half !== 'float16' && half !== 'bfloat16') throw new InvalidArgumentError('datatype', `unknown datatype ${String(half)}; use 'float16' or 'bfloat16'`);
    if (!(value instanceof Uint16Array)) throw new InvalidArgumentError('datatype', `${half} data must be carried in a Uint16Array`);
    if (op.builtin && ['BAND', 'BOR', 'BXOR'].includes(op.name)) throw new InvalidArgumentError('op', `${op.name} is defined on integer types only, not ${half}`);
  }
  if (!op.builtin) return;
  if (op.name === 'MINLOC' || op.name === 'MAXLOC') {
    if (isTypedArray(value)) {
      if (value.length % 2 !== 0) throw new InvalidArgumentError('data', `${op.name} needs (value, index) pairs: an even-length array`);
      return;
    }
    const pair = value as { value?: unknown; index?: unknown } | null;
    if (pair !== null && typeof pair === 'object' && typeof pair.index === 'number' && ['number', 'bigint'].includes(typeof pair.value)) return;
    throw new InvalidArgumentError('data', `${op.name} takes { value, index } or an array of interleaved (value, index) pairs`);
  }
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (['BAND', 'BOR', 'BXOR'].includes(op.name) && typeof value === 'number' && !Number.isInteger(value)) {
      throw new InvalidArgumentError('op', `${op.name} is defined on integers only`);
    }
    return;
  }
  if (!isTypedArray(value)) throw new InvalidArgumentError('data', 'built-in reductions take a number, a bigint or a TypedArray');
  if (['BAND', 'BOR', 'BXOR'].includes(op.name) && !INTEGER_ARRAYS.has(value.constructor) && !(value instanceof Uint8Array)) {
    throw new InvalidArgumentError('op', `${op.name} is defined on integer types only, not ${value.constructor.name}`);
  }
}

type Num = number;
type Kernel = (a: Num, b: Num) => Num;

// The casts in this file let one loop serve every element type: a bigint
// array only ever meets a bigint array, and bigint arithmetic is exact.
const KERNELS: Record<Exclude<OpName, 'MINLOC' | 'MAXLOC'>, Kernel> = {
  SUM: (a, b) => a + b,
  PROD: (a, b) => a * b,
  MIN: (a, b) => (a < b ? a : b),
  MAX: (a, b) => (a > b ? a : b),
  LAND: (a, b) => (a && b ? 1 : 0),
  LOR: (a, b) => (a || b ? 1 : 0),
  LXOR: (a, b) => (!a !== !b ? 1 : 0),
  BAND: (a, b) => a & b,
  BOR: (a, b) => a | b,
  BXOR: (a, b) => a ^ b,
};

function elementwise(name: OpName, a: Float64Array, b: Float64Array, big: boolean): void {
  const n = a.length;
  // A NaN result of an arithmetic op on floats is the canonical NaN (JavaScript keeps no payloads; the native kernels do the same).
  const float = (a as unknown) instanceof Float64Array || (a as unknown) instanceof Float32Array;
  switch (name) {
    case 'SUM':
      if (float) for (let i = 0; i < n; i++) { const r = (a[i] as Num) + (b[i] as Num); a[i] = r === r ? r : NaN; }
      else for (let i = 0; i < n; i++) a[i] = (a[i] as Num) + (b[i] as Num);
      return;
    case 'PROD':
      if (float) {
        for (let i = 0; i < n; i++) { const r = (a[i] as Num) * (b[i] as Num); a[i] = r === r ? r : NaN; }
      } else if ((a as unknown) instanceof Int32Array || (a as unknown) instanceof Uint32Array) {
        // A double product of two 32-bit integers can exceed 2^53; imul gives the exact low 32 bits.
        const x = a as unknown as Int32Array;
        for (let i = 0; i < n; i++) x[i] = Math.imul(x[i] as Num, b[i] as Num);
      } else {
        for (let i = 0; i < n; i++) a[i] = (a[i] as Num) * (b[i] as Num);
      }
      return;
    case 'MIN':
      for (let i = 0; i < n; i++) { const r = (a[i] as Num) < (b[i] as Num) ? (a[i] as Num) : (b[i] as Num); a[i] = r === r ? r : NaN; }
      return;
    case 'MAX':
      for (let i = 0; i < n; i++) { const r = (a[i] as Num) > (b[i] as Num) ? (a[i] as Num) : (b[i] as Num); a[i] = r === r ? r : NaN; }
      return;
    case 'MINLOC':
    case 'MAXLOC': {
      const less = name === 'MINLOC';
      for (let i = 0; i < n; i += 2) {
        const av = a[i] as Num;
        const bv = b[i] as Num;
        const bi = b[i + 1] as Num;
        // Copied NaNs are canonical, as in the native kernels (JavaScript keeps no NaN payloads).
        if (less ? bv < av : bv > av) {
          a[i] = bv;
          a[i + 1] = bi === bi ? bi : NaN;
        } else if (bv === av && bi < (a[i + 1] as Num)) {
          a[i + 1] = bi;
        }
      }
      return;
    }
    default: {
      const k = KERNELS[name];
      if (big) {
        const one = 1n as unknown as Num;
        const zero = 0n as unknown as Num;
        const logical = name === 'LAND' || name === 'LOR' || name === 'LXOR';
        for (let i = 0; i < n; i++) {
          const r = k(a[i] as Num, b[i] as Num);
          a[i] = logical ? (r ? one : zero) : r;
        }
      } else {
        for (let i = 0; i < n; i++) a[i] = k(a[i] as Num, b[i] as Num);
      }
    }
  }
}

function halfElementwise(name: OpName, a: Uint16Array, b: Uint16Array, half: HalfType): void {
  const widen = half === 'float16' ? halfToFloat : bfloatToFloat;
  const narrow = half === 'float16' ? floatToHalf : floatToBfloat;
  const pairs = name === 'MINLOC' || name === 'MAXLOC';
  const k = pairs ? undefined : KERNELS[name as keyof typeof KERNELS];
  for (let i = 0; i < a.length; i += pairs ? 2 : 1) {
    const x = widen(a[i] as number);
    const y = widen(b[i] as number);
    if (k) {
      const r = k(x, y);
      a[i] = narrow(r === r ? Math.fround(r) : NaN);
    } else {
      const yi = widen(b[i + 1] as number);
      const xi = widen(a[i + 1] as number);
      if (name === 'MINLOC' ? y < x : y > x) {
        a[i] = b[i] as number;
        a[i + 1] = b[i + 1] as number;
      } else if (y === x && yi < xi) a[i + 1] = b[i + 1] as number;
    }
  }
}

/**
 * `inout = inout op input`, element-wise, in place. Both must be the same
 * TypedArray type and length. Throws `InvalidArgumentError` otherwise.
 */
export function reduceInto(op: Op, inout: TypedArray, input: TypedArray, half?: HalfType): void {
  if (inout.constructor !== input.constructor || inout.length !== input.length) {
    throw new InvalidArgumentError(
      'data',
      `cannot reduce ${inout.constructor.name}(${inout.length}) with ${input.constructor.name}(${input.length}): every rank must pass the same type and length`,
    );
  }
  if (!op.builtin) {
    const result = (op.fn as (a: unknown, b: unknown) => unknown)(inout, input) as TypedArray;
    if (result !== inout) {
      if (!isTypedArray(result) || result.length !== inout.length) {
        throw new InvalidArgumentError('op', `the user op ${op.name} must return an array of the same type and length`);
      }
      (inout as Float64Array).set(result as Float64Array);
    }
    return;
  }
  const native = nativeAddon();
  if (native !== undefined) {
    const datatype = half === 'float16' ? FLOAT16 : half === 'bfloat16' ? BFLOAT16 : (typedArrayDatatype(inout) as number);
    native.reduce(opCode(op), datatype, inout, input);
    return;
  }
  reduceIntoTs(op, inout, input, half);
}

/** The TypeScript kernels: what the native addon computes, bit for bit. */
export function reduceIntoTs(op: Op, inout: TypedArray, input: TypedArray, half?: HalfType): void {
  if (half !== undefined) halfElementwise(op.name as OpName, inout as Uint16Array, input as Uint16Array, half);
  else elementwise(op.name as OpName, inout as Float64Array, input as Float64Array, inout instanceof BigInt64Array || inout instanceof BigUint64Array);
}

/**
 * `a op b` for any reducible values; TypedArrays are reduced into `a`
 * (which is returned), scalars and objects give a new value.
 */
export function combine(op: Op, a: unknown, b: unknown, half?: HalfType): unknown {
  if (isTypedArray(a) && isTypedArray(b)) {
    reduceInto(op, a, b, half);
    return a;
  }
  if (!op.builtin) return (op.fn as (x: unknown, y: unknown) => unknown)(a, b);
  if (op.name === 'MINLOC' || op.name === 'MAXLOC') {
    const x = a as { value: number; index: number };
    const y = b as { value: number; index: number };
    if (op.name === 'MINLOC' ? y.value < x.value : y.value > x.value) return { value: y.value, index: y.index };
    return { value: x.value, index: y.value === x.value ? Math.min(x.index, y.index) : x.index };
  }
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'bigint')) {
    throw new InvalidArgumentError('data', `cannot reduce a ${typeof a} with a ${typeof b}: every rank must pass the same kind of value`);
  }
  const r = KERNELS[op.name as keyof typeof KERNELS](a as Num, b as Num);
  if (typeof a === 'bigint' && ['LAND', 'LOR', 'LXOR'].includes(op.name)) return BigInt(r);
  return r;
}
