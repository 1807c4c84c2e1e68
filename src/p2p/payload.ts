/**
 * Turning user values into payload bytes and back.
 *
 * TypedArrays, Buffers, DataViews and ArrayBuffers travel as their raw bytes
 * (zero-copy on the send side: the payload is a view of the caller's memory).
 * Any other value travels as `node:v8` structured-clone bytes, like mpi4py's
 * pickled lowercase methods; deserializing them never executes code.
 */
import type v8Module from 'node:v8';
import { Datatype, PayloadKind, TYPED_ARRAY_CONSTRUCTORS, typedArrayDatatype } from '../datatype.js';
import { SerializationError, TransportError } from '../errors.js';

/**
 * `node:v8`, loaded at the first serialized payload: loading it (with its heap
 * utilities) took about 14 ms of each rank's start on this project's machine,
 * and a job that sends only typed arrays never needs it.
 */
let v8: typeof v8Module | undefined;
function v8Builtin(): typeof v8Module {
  return (v8 ??= process.getBuiltinModule('node:v8'));
}

/** A value encoded for the wire. */
export interface EncodedPayload {
  kind: PayloadKind;
  datatype: Datatype;
  /** Element count: elements of a TypedArray, bytes otherwise. */
  count: number;
  /** The bytes; for raw payloads a view of the caller's memory. */
  bytes: Uint8Array;
}

/** Encodes `value`. Throws {@link SerializationError} for values that cannot be cloned (functions, symbols, ...). */
export function encodePayload(value: unknown): EncodedPayload {
  const datatype = typedArrayDatatype(value);
  if (datatype !== undefined) {
    const view = value as ArrayBufferView & { length: number };
    return {
      kind: PayloadKind.TYPED,
      datatype,
      count: view.length,
      bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
    };
  }
  if (value instanceof DataView) {
    return {
      kind: PayloadKind.TYPED,
      datatype: Datatype.DATAVIEW,
      count: value.byteLength,
      bytes: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
    };
  }
  if (value instanceof ArrayBuffer) {
    return { kind: PayloadKind.TYPED, datatype: Datatype.ARRAYBUFFER, count: value.byteLength, bytes: new Uint8Array(value) };
  }
  let bytes: Buffer;
  try {
    bytes = v8Builtin().serialize(value);
  } catch (error) {
    throw new SerializationError(`cannot serialize a value of type ${describe(value)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { kind: PayloadKind.SERIALIZED, datatype: Datatype.BYTES, count: bytes.byteLength, bytes };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * Decodes received bytes. `bytes` must be exclusively owned by the caller
 * (its own allocation, at any offset): when its offset is aligned for the
 * datatype the result is a view of it, without a copy.
 */
export function decodePayload(kind: number, datatype: number, count: number, bytes: Uint8Array): unknown {
  if (kind === PayloadKind.SERIALIZED) {
    try {
      return v8Builtin().deserialize(bytes);
    } catch (error) {
      throw new SerializationError(`cannot deserialize a received value: ${(error as Error).message}`, { cause: error });
    }
  }
  if (kind !== PayloadKind.TYPED) throw new TransportError(`unknown payload kind ${kind}`);
  switch (datatype) {
    case Datatype.BUFFER:
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case Datatype.DATAVIEW:
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case Datatype.ARRAYBUFFER:
      return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes.buffer
        : copyOf(bytes).buffer;
  }
  const ctor = TYPED_ARRAY_CONSTRUCTORS.get(datatype as Datatype);
  if (ctor === undefined) throw new TransportError(`unknown datatype ${datatype}`);
  if (count * ctor.BYTES_PER_ELEMENT !== bytes.byteLength) {
    throw new TransportError(`payload of ${bytes.byteLength} bytes does not hold ${count} ${ctor.name} elements`);
  }
  const aligned = bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0 ? bytes : copyOf(bytes);
  return new ctor(aligned.buffer, aligned.byteOffset, count);
}

/** A copy in a buffer of its own (`Buffer#slice` would be a view). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}
