// Per-hour flight-delay statistics over the 200k-row flights data set of the
// vega-datasets package: the pieces shared by the SPMD job (flights.ts) and
// its serial check (test/integration/examples.test.ts).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import Table from 'cli-table3';

/** One column per field; `hour` is the departure hour 0..23. */
export interface Flights {
  delay: Int32Array;
  hour: Uint8Array;
}

export const HOURS = 24;
/** Per hour: flights, sum of delays, sum of squared delays, flights delayed more than 15 minutes. */
export const SUM_FIELDS = 4;
/** A flight counts as delayed above this many minutes (the US DOT definition). */
export const DELAYED_MINUTES = 15;

/** Reads `flights-200k.json` from the vega-datasets package into typed columns. */
export async function loadFlights(): Promise<Flights> {
  // The package exports only its entry point; the data files sit beside its build/ folder.
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  const file = path.join(path.dirname(entry), '..', 'data', 'flights-200k.json');
  const rows = JSON.parse(await readFile(file, 'utf8')) as Array<{ delay: number; time: number }>;
  const delay = new Int32Array(rows.length);
  const hour = new Uint8Array(rows.length);
  rows.forEach((row, i) => {
    delay[i] = row.delay;
    hour[i] = Math.floor(row.time);
  });
  return { delay, hour };
}

/** Partial sums (HOURS x SUM_FIELDS, hour-major) and per-hour maximum delays of some flights. */
export function partialStats(flights: Flights): { sums: Float64Array; maxDelay: Int32Array } {
  const sums = new Float64Array(HOURS * SUM_FIELDS);
  const maxDelay = new Int32Array(HOURS).fill(-(2 ** 31));
  for (let i = 0; i < flights.delay.length; i++) {
    const h = flights.hour[i] as number;
    const d = flights.delay[i] as number;
    const base = h * SUM_FIELDS;
    sums[base] = (sums[base] as number) + 1;
    sums[base + 1] = (sums[base + 1] as number) + d;
    sums[base + 2] = (sums[base + 2] as number) + d * d;
    if (d > DELAYED_MINUTES) sums[base + 3] = (sums[base + 3] as number) + 1;
    if (d > (maxDelay[h] as number)) maxDelay[h] = d;
  }
  return { sums, maxDelay };
}

/** The printed table. Sums of integers are exact in float64, so any partition gives the same text. */
export function formatTable(sums: Float64Array, maxDelay: Int32Array): string {
  const table = new Table({
    head: ['hour', 'flights', 'mean delay (min)', 'std dev (min)', 'delayed > 15 min', 'max delay (min)'],
    colAligns: ['right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  let total = 0;
  for (let h = 0; h < HOURS; h++) {
    const [n = 0, s = 0, ss = 0, late = 0] = sums.subarray(h * SUM_FIELDS, (h + 1) * SUM_FIELDS);
    total += n;
    if (n === 0) continue;
    const mean = s / n;
    const sd = Math.sqrt(Math.max(0, ss / n - mean * mean));
    table.push([
      `${String(h).padStart(2, '0')}:00`,
      String(n),
      mean.toFixed(2),
      sd.toFixed(2),
      `${((100 * late) / n).toFixed(1)} %`,
      String(maxDelay[h]),
    ]);
  }
  return `${table.toString()}\n${total} flights`;
}
