// Reduction kernel throughput: native SIMD vs the TypeScript twin vs memcpy (Buffer.copy),
// in GB/s of one operand (n x element size / time), medians of repeated runs; the
// ratio columns are medians of per-round ratios, all three sampled round-robin.
//   npm run bench:reduce            (add -- --quick for small sizes only, -- --json for JSON)
import Table from 'cli-table3';
import { Datatype } from '../src/datatype.js';
import { MAX, opCode, reduceIntoTs, SUM, type Op } from '../src/reduce/ops.js';
import { nativeAddon } from '../src/reduce/native.js';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const SIZES = quick ? [16 << 10, 1 << 20] : [16 << 10, 1 << 20, 16 << 20, 256 << 20];
const TYPES = [
  ['float32', Float32Array, Datatype.FLOAT32],
  ['float64', Float64Array, Datatype.FLOAT64],
  ['int32', Int32Array, Datatype.INT32],
] as const;
const OPS: Array<[string, Op]> = [['SUM', SUM], ['MAX', MAX]];
const SAMPLES = quick ? 5 : 11;

const addon = nativeAddon();
if (addon === undefined) throw new Error('the native addon is not loaded: build it with `npm rebuild` (tsmpirun --info says why)');

/** Calls `fn` enough times that one sample lasts >= 20 ms. */
function calibrate(fn: () => void): number {
  for (let reps = 1; ; reps *= 2) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    if (Number(process.hrtime.bigint() - t) / 1e9 >= 0.02) return reps;
  }
}

/**
 * Seconds per call of each function, sampled round-robin so that every
 * function sees the same machine conditions (this VM's memory bandwidth
 * varies); returns per-function sample lists.
 */
function interleaved(fns: Array<() => void>): number[][] {
  const reps = fns.map(calibrate);
  const samples = fns.map(() => [] as number[]);
  for (let k = 0; k < SAMPLES; k++) {
    fns.forEach((fn, j) => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < reps[j]!; i++) fn();
      samples[j]!.push(Number(process.hrtime.bigint() - t) / 1e9 / reps[j]!);
    });
  }
  return samples;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
/** Median over rounds of time(den) / time(num): a throughput ratio num/den taken under the same conditions. */
const ratio = (num: number[], den: number[]): number => median(num.map((t, k) => (den[k] as number) / t));

const fmtSize = (b: number): string => (b >= 1 << 20 ? `${b >> 20} MiB` : `${b >> 10} KiB`);
const rows: Array<Record<string, string | number>> = [];
for (const bytes of SIZES) {
  const src = Buffer.alloc(bytes, 1);
  const dst = Buffer.alloc(bytes);
  for (const [name, Ctor, datatype] of TYPES) {
    const n = bytes / Ctor.BYTES_PER_ELEMENT;
    const a = new Ctor(n).fill(1 as never);
    const b = new Ctor(n).fill(2 as never);
    for (const [opName, op] of OPS) {
      const [native, ts, copy] = interleaved([
        () => addon.reduce(opCode(op), datatype, a, b),
        () => reduceIntoTs(op, a, b),
        () => src.copy(dst),
      ]) as [number[], number[], number[]];
      const gbps = (t: number[]): number => +(bytes / median(t) / 1e9).toFixed(2);
      rows.push({
        size: fmtSize(bytes),
        type: name,
        op: opName,
        'native GB/s': gbps(native),
        'TS GB/s': gbps(ts),
        'memcpy GB/s': gbps(copy),
        'native/TS': +ratio(native, ts).toFixed(1),
        'native/memcpy': +ratio(native, copy).toFixed(2),
      });
    }
  }
}

if (json) {
  console.log(JSON.stringify({ isa: addon.isa(), node: process.version, rows }, null, 2));
} else {
  console.log(`native kernels: ${addon.isa()}; node ${process.version}; medians of ${SAMPLES} samples`);
  const table = new Table({ head: Object.keys(rows[0] ?? {}), style: { head: [], border: [] } });
  for (const row of rows) table.push(Object.values(row).map(String));
  console.log(table.toString());
}
