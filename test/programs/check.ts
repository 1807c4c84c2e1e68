// Assertion helper for rank programs: a failure names the rank and what differed.
import { isDeepStrictEqual, inspect } from 'node:util';

export function check(rank: number, what: string, actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`rank ${rank}: ${what}: got ${inspect(actual, { depth: 4 })}, expected ${inspect(expected, { depth: 4 })}`);
  }
}
