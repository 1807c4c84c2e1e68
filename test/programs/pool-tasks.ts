// Tasks for test/programs/pool.ts: loaded by each worker from this file (TypeScript, through tsx).
import { setTimeout as sleep } from 'node:timers/promises';

export function square(x: number): number {
  return x * x;
}

/** The worker's world rank, after `ms` (so that every worker gets a share). */
export async function who(ms: number): Promise<number> {
  await sleep(ms);
  return Number(process.env.TSMPI_COMM_WORLD_RANK);
}

/** Returns `x` after a delay that shrinks with `x`: results come back out of order. */
export async function late(x: number): Promise<number> {
  await sleep((20 - x) * 3);
  return x;
}

export function failOn3(x: number): number {
  if (x === 3) throw new RangeError(`three is not allowed`);
  return x;
}

export function sum(values: Float64Array): number {
  if (!(values instanceof Float64Array)) throw new TypeError('expected a Float64Array');
  return values.reduce((a, b) => a + b, 0);
}

export default function identity(x: unknown): unknown {
  return x;
}

/** Ends the process when it runs on world rank 2 (test/programs/pool-die.ts). */
export async function exitOnRank2(x: number): Promise<number> {
  await sleep(5);
  if (process.env.TSMPI_COMM_WORLD_RANK === '2') process.exit(3);
  return x;
}
