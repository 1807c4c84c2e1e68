import { describe, expect, it } from 'vitest';
import { BAND, BOR, BXOR, LAND, LOR, LXOR, MAX, MAXLOC, MIN, MINLOC, PROD, SUM, createOp, type Op } from '../../src/index.js';
import { checkReducible, combine, reduceInto } from '../../src/reduce/ops.js';
import { bfloatToFloat, floatToBfloat, floatToHalf, halfToFloat } from '../../src/reduce/half.js';
import { spmd } from '../helpers/memory.js';

const INT_TYPES = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array] as const;
const FLOAT_TYPES = [Float32Array, Float64Array] as const;
const BIG_TYPES = [BigInt64Array, BigUint64Array] as const;
const ARITH: Array<[string, Op]> = [['SUM', SUM], ['PROD', PROD], ['MIN', MIN], ['MAX', MAX], ['LAND', LAND], ['LOR', LOR], ['LXOR', LXOR]];
const BITWISE: Array<[string, Op]> = [['BAND', BAND], ['BOR', BOR], ['BXOR', BXOR]];

/** The scalar definition each element must follow (stored back through the array's own type). */
function scalar(name: string, a: number, b: number): number {
  switch (name) {
    case 'SUM': return a + b;
    case 'PROD': return a * b;
    case 'MIN': return a < b ? a : b;
    case 'MAX': return a > b ? a : b;
    case 'LAND': return a && b ? 1 : 0;
    case 'LOR': return a || b ? 1 : 0;
    case 'LXOR': return !a !== !b ? 1 : 0;
    case 'BAND': return a & b;
    case 'BOR': return a | b;
    default: return a ^ b;
  }
}

describe('reduction kernels', () => {
  const sample = [0, 1, -1, 2, 127, -128, 255, 300, 65535, -70000, 2 ** 31 - 1, 0.5, -0, NaN, Infinity];
  for (const Ctor of [...INT_TYPES, ...FLOAT_TYPES]) {
    for (const [name, op] of [...ARITH, ...(INT_TYPES.includes(Ctor as never) ? BITWISE : [])]) {
      it(`${name} on ${Ctor.name} matches the scalar definition element by element`, () => {
        const a = Ctor.from(sample);
        const b = Ctor.from([...sample].reverse());
        const expected = Ctor.from(Array.from(a, (x, i) => scalar(name, x as number, b[i] as number)));
        reduceInto(op, a, b);
        expect([...a]).toEqual([...expected]);
      });
    }
  }

  for (const Ctor of BIG_TYPES) {
    it(`every op on ${Ctor.name} uses exact bigint arithmetic with wrap-around`, () => {
      const a = Ctor.from([0n, 1n, 2n ** 62n, 5n]);
      const b = Ctor.from([3n, 0n, 4n, 5n]);
      const sum = a.slice();
      reduceInto(SUM, sum, b);
      expect([...sum]).toEqual([...Ctor.from([3n, 1n, 2n ** 62n + 4n, 10n])]);
      const prod = a.slice();
      reduceInto(PROD, prod, b);
      expect(prod[2]).toBe(Ctor === BigInt64Array ? 0n : 0n); // 2^64 wraps to 0
      const land = a.slice();
      reduceInto(LAND, land, b);
      expect([...land]).toEqual([...Ctor.from([0n, 0n, 1n, 1n])]);
      const xor = a.slice();
      reduceInto(BXOR, xor, b);
      expect([...xor]).toEqual([...Ctor.from([3n, 1n, 2n ** 62n ^ 4n, 0n])]);
    });
  }

  it('refuses bitwise ops on floating-point data', () => {
    expect(() => checkReducible(BAND, new Float32Array(2))).toThrow(expect.objectContaining({ code: 'ERR_TSMPI_INVALID_ARGUMENT', argument: 'op' }));
    expect(() => checkReducible(BXOR, 1.5)).toThrow(expect.objectContaining({ argument: 'op' }));
    expect(() => checkReducible(BOR, new Int32Array(2))).not.toThrow();
  });

  it('MINLOC/MAXLOC pick the extreme value and the smallest index among ties', () => {
    const a = Float64Array.from([3, 0, 5, 1, 7, 2]);
    const b = Float64Array.from([3, 9, 4, 8, 9, 3]);
    reduceInto(MINLOC, a, b);
    expect([...a]).toEqual([3, 0, 4, 8, 7, 2]);
    expect(combine(MAXLOC, { value: 2, index: 5 }, { value: 2, index: 1 })).toEqual({ value: 2, index: 1 });
    expect(() => checkReducible(MINLOC, new Float64Array(3))).toThrow(expect.objectContaining({ argument: 'data' }));
  });

  it('converts float16 exactly and rounds to nearest even', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) expect(Number.isNaN(halfToFloat(floatToHalf(x)))).toBe(true);
      else expect(floatToHalf(x), `bits ${h.toString(16)}`).toBe(h);
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(65520)).toBe(0x7c00); // overflows to Infinity
  });

  it('converts bfloat16 exactly and rounds to nearest even', () => {
    for (let h = 0; h < 0x10000; h += 7) {
      const x = bfloatToFloat(h);
      if (!Number.isNaN(x)) expect(floatToBfloat(x)).toBe(h);
    }
    expect(floatToBfloat(1 + 2 ** -8)).toBe(0x3f80);
  });

  it('reduces half-precision data carried in Uint16Array', async () => {
    const got = await spmd(3, (c) => c.allreduce(Uint16Array.from([floatToHalf(1.5), floatToHalf(-2)]), { op: SUM, datatype: 'float16' }));
    got.forEach((v) => expect([...v].map(halfToFloat)).toEqual([4.5, -6]));
    const b = await spmd(2, (c) => c.allreduce(Uint16Array.from([floatToBfloat(c.rank + 1)]), { op: MAX, datatype: 'bfloat16' }));
    expect(bfloatToFloat(b[0]![0]!)).toBe(2);
    await expect(spmd(1, (c) => c.allreduce(new Float32Array(1), { datatype: 'float16' }))).rejects.toMatchObject({ argument: 'datatype' });
  });

  it('applies user ops to whole values, and element-wise on TypedArrays', async () => {
    const longest = createOp((a: string, b: string) => (b.length > a.length ? b : a), { commutative: true });
    expect(await spmd(3, (c) => c.allreduce('x'.repeat(c.rank + 1), { op: longest }))).toEqual(['xxx', 'xxx', 'xxx']);
    // 2x2 matrix product: associative, not commutative; operands must stay in rank order.
    const matmul = createOp((a: Float64Array, b: Float64Array) =>
      Float64Array.from([a[0]! * b[0]! + a[1]! * b[2]!, a[0]! * b[1]! + a[1]! * b[3]!, a[2]! * b[0]! + a[3]! * b[2]!, a[2]! * b[1]! + a[3]! * b[3]!]),
    );
    const mine = (r: number): Float64Array => Float64Array.from([r + 1, 1, 0, 1]);
    for (const size of [2, 3, 4, 5]) {
      let expected = mine(0);
      for (let r = 1; r < size; r++) expected = matmul.fn!(expected, mine(r)) as Float64Array;
      const got = await spmd(size, (c) => c.allreduce(mine(c.rank), { op: matmul }));
      got.forEach((v) => expect([...v]).toEqual([...expected]));
    }
  });
});
