// The native kernels against their TypeScript twin: every op x datatype x length x
// byte offset x instruction set, bitwise. Without the addon this suite fails, unless
// TSMPI_NATIVE=0 says the TypeScript kernels are meant (then it is skipped, and says so).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Datatype, TYPED_ARRAY_CONSTRUCTORS, type TypedArray } from '../../src/datatype.js';
import { BAND, BFLOAT16, BOR, BXOR, FLOAT16, LAND, LOR, LXOR, MAX, MAXLOC, MIN, MINLOC, opCode, PROD, reduceIntoTs, SUM, type HalfType, type Op } from '../../src/reduce/ops.js';
import { backendInfo, nativeAddon } from '../../src/reduce/native.js';

const disabled = process.env.TSMPI_NATIVE === '0';
if (disabled) console.log('native kernel tests skipped: TSMPI_NATIVE=0 selects the TypeScript kernels for this run');

const ALL_OPS: Op[] = [SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR, MINLOC, MAXLOC];
const FLOATS = new Set<number>([Datatype.FLOAT32, Datatype.FLOAT64, FLOAT16, BFLOAT16]);
const DATATYPES: Array<[string, number]> = [...TYPED_ARRAY_CONSTRUCTORS.entries()].map(([d, c]) => [c.name, d] as [string, number]);
DATATYPES.push(['float16', FLOAT16], ['bfloat16', BFLOAT16]);
const LENGTHS = [0, 1, 7, 8, 63, 64, 1000];
const OFFSETS = [0, 1, 2, 4];

function ctorOf(datatype: number): { new (buffer: ArrayBuffer, offset?: number, length?: number): TypedArray; BYTES_PER_ELEMENT: number } {
  return (datatype === FLOAT16 || datatype === BFLOAT16 ? Uint16Array : TYPED_ARRAY_CONSTRUCTORS.get(datatype as never)) as never;
}

/** Random elements with the awkward values mixed in: NaN, ±0, ±Infinity, extremes that overflow. */
function randomArray(datatype: number, n: number): TypedArray {
  const Ctor = ctorOf(datatype);
  const bytes = randomBytes(n * Ctor.BYTES_PER_ELEMENT);
  const arr = new Ctor(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), 0, n);
  if (datatype === Datatype.FLOAT32 || datatype === Datatype.FLOAT64) {
    const special = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 0.5, 3];
    const f = arr as Float64Array;
    for (let i = 0; i < n; i++) {
      if (i % 5 === 0) f[i] = special[(i / 5) % special.length]!;
      else if (i % 11 === 3) continue; // raw random bits: NaNs with payloads, denormals, huge values
      else if (!Number.isFinite(f[i]!) || Math.abs(f[i]!) > 1e30 || Math.abs(f[i]!) < 1e-30) f[i] = (i % 17) - 8 + i / 7;
    }
  }
  if (datatype !== Datatype.FLOAT32 && datatype !== Datatype.FLOAT64 && datatype !== FLOAT16 && datatype !== BFLOAT16) {
    const zero = arr instanceof BigInt64Array || arr instanceof BigUint64Array ? 0n : 0;
    for (let i = 0; i < n; i += 4) (arr as unknown as unknown[])[i] = zero; // zeros for the logical ops
  }
  return arr;
}

const half = (datatype: number): HalfType | undefined => (datatype === FLOAT16 ? 'float16' : datatype === BFLOAT16 ? 'bfloat16' : undefined);

/** A copy of `arr`'s bytes starting `offset` bytes into a fresh buffer (possibly misaligned for the type). */
function misaligned(arr: TypedArray, offset: number): Uint8Array {
  const out = new Uint8Array(arr.byteLength + offset).subarray(offset);
  out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  return out;
}

describe.skipIf(disabled)('native reduction kernels', () => {
  const addon = nativeAddon();

  it(`equals the TypeScript twin bit for bit on every instruction set (${addon?.isas().join(', ')}), for every op, datatype, length and byte offset`, () => {
    const isas = addon!.isas();
    try {
      for (const [name, datatype] of DATATYPES) {
        for (const op of ALL_OPS) {
          if (FLOATS.has(datatype) && [BAND, BOR, BXOR].includes(op)) continue;
          for (const n0 of [...LENGTHS, (1 << 20) / ctorOf(datatype).BYTES_PER_ELEMENT]) {
            const n = op === MINLOC || op === MAXLOC ? n0 - (n0 % 2) : n0;
            const a = randomArray(datatype, n);
            const b = randomArray(datatype, n);
            const expected = a.slice();
            reduceIntoTs(op, expected, b, half(datatype));
            const want = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
            for (const isa of isas) {
              addon!.setIsa(isa);
              for (const offset of n0 > 1000 ? [0, 1] : OFFSETS) {
                const inout = misaligned(a, offset);
                addon!.reduce(opCode(op), datatype, inout, misaligned(b, (offset + 3) % 5));
                if (!Buffer.from(inout.buffer, inout.byteOffset, inout.byteLength).equals(want)) {
                  const Ctor = ctorOf(datatype);
                  const got = new Ctor(inout.slice().buffer, 0, n);
                  const i = Array.from({ length: n }, (_, k) => k).find((k) => !Object.is(got[k], expected[k]));
                  expect.fail(`${isa} ${op.name} ${name} n=${n} offset=${offset}: index ${i}: native ${String(got[i!])}, TypeScript ${String(expected[i!])} (a=${String(a[i!])}, b=${String(b[i!])})`);
                }
              }
            }
          }
        }
      }
    } finally {
      addon!.setIsa(isas[0]!);
    }
  });

  it('checks its arguments and throws instead of crashing', () => {
    const f = new Float64Array(4);
    expect(() => addon!.reduce(opCode(SUM), Datatype.FLOAT64, f, new Float64Array(3))).toThrow(RangeError);
    expect(() => addon!.reduce(opCode(BAND), Datatype.FLOAT64, f, new Float64Array(4))).toThrow(TypeError);
    expect(() => addon!.reduce(opCode(SUM), 99, f, new Float64Array(4))).toThrow(TypeError);
    expect(() => addon!.reduce(opCode(SUM), Datatype.FLOAT64, f, 'nope' as never)).toThrow(TypeError);
    expect(() => addon!.reduce(opCode(SUM), Datatype.FLOAT64, f.subarray(0, 3), f.subarray(1))).toThrow(RangeError); // overlap
    expect(() => (addon!.reduce as (...args: unknown[]) => void)(1)).toThrow(TypeError);
    expect(() => addon!.setIsa('nonexistent')).toThrow(RangeError);
  });
});

it('uses the backend TSMPI_NATIVE selects, and says which and why', () => {
  if (disabled) {
    expect(nativeAddon()).toBeUndefined();
    expect(backendInfo()).toEqual({ backend: 'typescript', reason: 'disabled by TSMPI_NATIVE=0' });
  } else {
    expect(backendInfo()).toMatchObject({ backend: 'native', isa: nativeAddon()?.isas()[0] });
  }
});
