/**
 * Datatypes and payload kinds, mirroring the `Datatype` and `PayloadKind`
 * enums of `proto/tsmpi.proto` (the numbers must stay equal).
 */

import { InvalidArgumentError } from './errors.js';

/** Every TypedArray type tsmpi carries as raw bytes. */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** How a payload's bytes are to be read. */
export const PayloadKind = { TYPED: 1, SERIALIZED: 2 } as const;
export type PayloadKind = (typeof PayloadKind)[keyof typeof PayloadKind];

/** Element types on the wire. */
export const Datatype = {
  INT8: 1,
  UINT8: 2,
  UINT8_CLAMPED: 3,
  INT16: 4,
  UINT16: 5,
  INT32: 6,
  UINT32: 7,
  FLOAT32: 8,
  FLOAT64: 9,
  BIGINT64: 10,
  BIGUINT64: 11,
  BUFFER: 12,
  DATAVIEW: 13,
  ARRAYBUFFER: 14,
  BYTES: 15,
} as const;
export type Datatype = (typeof Datatype)[keyof typeof Datatype];

type TypedArrayConstructor = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  new (length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

/** Constructors of the TypedArray datatypes, by datatype number. */
export const TYPED_ARRAY_CONSTRUCTORS: ReadonlyMap<Datatype, TypedArrayConstructor> = new Map<Datatype, TypedArrayConstructor>([
  [Datatype.INT8, Int8Array],
  [Datatype.UINT8, Uint8Array],
  [Datatype.UINT8_CLAMPED, Uint8ClampedArray],
  [Datatype.INT16, Int16Array],
  [Datatype.UINT16, Uint16Array],
  [Datatype.INT32, Int32Array],
  [Datatype.UINT32, Uint32Array],
  [Datatype.FLOAT32, Float32Array],
  [Datatype.FLOAT64, Float64Array],
  [Datatype.BIGINT64, BigInt64Array],
  [Datatype.BIGUINT64, BigUint64Array],
]);

/** The datatype of a TypedArray, or `undefined` when `value` is not one (Buffer counts as BUFFER, not UINT8). */
export function typedArrayDatatype(value: unknown): Datatype | undefined {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return undefined;
  if (Buffer.isBuffer(value)) return Datatype.BUFFER;
  for (const [datatype, ctor] of TYPED_ARRAY_CONSTRUCTORS) {
    if (value.constructor === ctor) return datatype;
  }
  // A subclass of a TypedArray: classify by its base.
  for (const [datatype, ctor] of TYPED_ARRAY_CONSTRUCTORS) {
    if (value instanceof ctor) return datatype;
  }
  return undefined;
}

/** True for every TypedArray (Buffers included), false for DataView and everything else. */
export function isTypedArray(value: unknown): value is TypedArray {
  return typedArrayDatatype(value) !== undefined;
}

/** A new zero-filled array of `length` elements of a TypedArray datatype (Buffers included). */
export function allocDatatype(datatype: number, length: number): TypedArray {
  if (datatype === Datatype.BUFFER) return Buffer.alloc(length);
  const ctor = TYPED_ARRAY_CONSTRUCTORS.get(datatype as Datatype);
  if (ctor === undefined) throw new InvalidArgumentError('datatype', `${datatype} is not a TypedArray type`);
  return new ctor(length);
}
