import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../../src/p2p/payload.js';
import { SerializationError } from '../../src/errors.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function roundTrip(value: unknown): unknown {
  const p = encodePayload(value);
  // The receiver owns a fresh copy of the bytes, as the transports deliver them.
  return decodePayload(p.kind, p.datatype, p.count, p.bytes.slice());
}

const typedArrays = [
  new Int8Array([-128, 0, 127]),
  new Uint8Array([0, 1, 255]),
  new Uint8ClampedArray([0, 128, 255]),
  new Int16Array([-32768, 0, 32767]),
  new Uint16Array([0, 65535]),
  new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]),
  new Uint32Array([0, 2 ** 32 - 1]),
  new Float32Array([-1.5, 0, Math.fround(3.14), Infinity, NaN]),
  new Float64Array([-0, Math.PI, -Infinity, NaN, Number.MIN_VALUE]),
  new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]),
  new BigUint64Array([0n, 2n ** 64n - 1n]),
];

describe('payload encoding', () => {
  it.each(typedArrays.map((a) => [a.constructor.name, a] as const))('carries %s as raw bytes and returns the same type', (_, array) => {
    const p = encodePayload(array);
    expect(p.bytes.byteLength).toBe(array.byteLength);
    const back = roundTrip(array);
    expect(back).toBeInstanceOf(array.constructor);
    expect(back).toEqual(array);
  });

  it('sends a subarray view with a non-zero byteOffset as exactly its elements', () => {
    const base = new Float64Array([1, 2, 3, 4, 5, 6]);
    const view = base.subarray(2, 5);
    const p = encodePayload(view);
    expect(p.count).toBe(3);
    expect(p.bytes.buffer).toBe(base.buffer); // zero-copy on the send side
    expect(roundTrip(view)).toEqual(new Float64Array([3, 4, 5]));
  });

  it('decodes into a typed array even when the received bytes are misaligned', () => {
    const p = encodePayload(new Float64Array([7, 8]));
    const misaligned = new Uint8Array(p.bytes.byteLength + 1).subarray(1);
    misaligned.set(p.bytes);
    expect(decodePayload(p.kind, p.datatype, p.count, misaligned)).toEqual(new Float64Array([7, 8]));
  });

  it('copies misaligned bytes handed over as a Buffer view (as grpc-js does), whose slice() would not copy', () => {
    const p = encodePayload(new Float64Array([7, 8]));
    const received = Buffer.alloc(p.bytes.byteLength + 5).subarray(5); // a gRPC message after its 5-byte prefix
    received.set(p.bytes);
    expect(decodePayload(p.kind, p.datatype, p.count, received)).toEqual(new Float64Array([7, 8]));
    const raw = encodePayload(new Uint8Array([1, 2, 3]).buffer);
    const rawReceived = Buffer.alloc(8).subarray(5);
    rawReceived.set(raw.bytes);
    const decoded = decodePayload(raw.kind, raw.datatype, raw.count, rawReceived) as ArrayBuffer;
    expect(decoded.byteLength).toBe(3);
    expect([...new Uint8Array(decoded)]).toEqual([1, 2, 3]);
  });

  it('carries zero-length arrays', () => {
    expect(roundTrip(new Int32Array(0))).toEqual(new Int32Array(0));
    expect(roundTrip(new BigInt64Array(0))).toEqual(new BigInt64Array(0));
  });

  it('carries Buffers as Buffers, DataViews and ArrayBuffers as themselves', () => {
    const buf = Buffer.from('héllo');
    const back = roundTrip(buf);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect((back as Buffer).toString()).toBe('héllo');
    const dv = roundTrip(new DataView(new Uint8Array([1, 2, 3]).buffer, 1, 2)) as DataView;
    expect(dv).toBeInstanceOf(DataView);
    expect([dv.getUint8(0), dv.getUint8(1)]).toEqual([2, 3]);
    const ab = roundTrip(new Uint8Array([9, 8]).buffer);
    expect(ab).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(ab as ArrayBuffer)]).toEqual([9, 8]);
  });

  it('carries structured-cloneable values: objects, Map, Set, Date, bigint, nested typed arrays', () => {
    const value = {
      n: 1,
      s: 'x',
      big: 2n ** 70n,
      when: new Date(0),
      map: new Map([['a', [1, 2]]]),
      set: new Set([1, 'two']),
      nested: { f32: new Float32Array([1.5]), list: [null, undefined, true] },
    };
    expect(roundTrip(value)).toEqual(value);
  });

  it('refuses values that cannot be cloned with SerializationError', () => {
    expect(() => encodePayload({ f: () => 1 })).toThrow(SerializationError);
    expect(() => encodePayload(Symbol('s'))).toThrow(SerializationError);
    expect(thrown(() => encodePayload(() => 1))).toMatchObject({ code: 'ERR_TSMPI_SERIALIZE' });
  });
});
