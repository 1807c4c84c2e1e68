// The tasks of the pool benchmark, plain JavaScript, for tsmpi's workers and piscina's threads alike.
import { performance } from 'node:perf_hooks';
export function empty(x) {
  return x;
}

/** Busy for 1 ms (a CPU-bound task, as the Python baseline's). */
export function busy1ms(x) {
  const end = performance.now() + 1;
  while (performance.now() < end);
  return x;
}
