/**
 * Algorithm selection: one table of thresholds, overridable by `TSMPI_*`
 * environment variables (like MPICH's CVARs) and per call (`algorithm`).
 *
 * | collective     | algorithm, by message size (bytes of one rank's data)                   |
 * | -------------- | ----------------------------------------------------------------------- |
 * | bcast          | binomial (< bcastLargeBytes or < 8 ranks); scatter + ring allgather     |
 * | allreduce      | recursive doubling (< allreduceShortBytes, or a non-commutative op);    |
 * |                | Rabenseifner (< allreduceRingBytes); ring (pipelined in segments)       |
 * | reduce         | binomial (< reduceLargeBytes or non-commutative); reduce-scatter+gather |
 * | allgather      | recursive doubling (power-of-two size) or Bruck (< allgatherShortBytes  |
 * |                | in total); ring                                                         |
 * | reduceScatter  | recursive halving (commutative, < reduceScatterLongBytes); pairwise     |
 * | alltoall       | Bruck (< alltoallTinyBytes per block, > 8 ranks); pairwise exchange     |
 * | gather/scatter | binomial; the v-forms are linear (as in MPICH)                          |
 * | barrier        | dissemination                                                           |
 * | scan/exscan    | recursive doubling                                                      |
 *
 * Starting points from Thakur, Rabenseifner & Gropp (2005) and MPICH's
 * defaults, moved by measurements on this transport (`npm run bench:tune`).
 */

/** Algorithms by collective. The numbers travel in collective messages. */
export const Algorithms = {
  bcast: { binomial: 1, scatter_allgather: 2 },
  allreduce: { recursive_doubling: 1, rabenseifner: 2, ring: 3 },
  reduce: { binomial: 1, reduce_scatter_gather: 2 },
  allgather: { recursive_doubling: 1, bruck: 2, ring: 3 },
  reduceScatter: { recursive_halving: 1, pairwise: 2 },
  alltoall: { pairwise: 1, bruck: 2 },
} as const;

export type AlgorithmName<C extends keyof typeof Algorithms> = keyof (typeof Algorithms)[C] & string;

/** Thresholds of the selection table (bytes). */
export interface Thresholds {
  /** bcast: at or above, scatter + ring allgather (with >= 8 ranks). `TSMPI_BCAST_LARGE_BYTES`. */
  bcastLargeBytes: number;
  /** allreduce: below, recursive doubling. `TSMPI_ALLREDUCE_SHORT_BYTES`. */
  allreduceShortBytes: number;
  /** allreduce: at or above, ring. `TSMPI_ALLREDUCE_RING_BYTES`. */
  allreduceRingBytes: number;
  /** reduce: at or above, reduce-scatter + gather (commutative ops). `TSMPI_REDUCE_LARGE_BYTES`. */
  reduceLargeBytes: number;
  /** allgather: total result below, recursive doubling / Bruck. `TSMPI_ALLGATHER_SHORT_BYTES`. */
  allgatherShortBytes: number;
  /** reduceScatter: at or above, pairwise. `TSMPI_REDUCE_SCATTER_LONG_BYTES`. */
  reduceScatterLongBytes: number;
  /** alltoall: blocks below, Bruck (with > 8 ranks). `TSMPI_ALLTOALL_TINY_BYTES`. */
  alltoallTinyBytes: number;
  /** Segment size of pipelined algorithms. `TSMPI_SEGMENT_BYTES`. */
  segmentBytes: number;
}

// Tuned on this transport with `bench/osu.ts tune` at 4 ranks (bench/README.md): per-message
// costs are high (tens of µs), so algorithms with fewer messages win longer than in MPICH.
const DEFAULTS: Thresholds = {
  bcastLargeBytes: 512 * 1024,
  allreduceShortBytes: 8 * 1024,
  allreduceRingBytes: 64 * 1024 * 1024,
  reduceLargeBytes: 512 * 1024,
  allgatherShortBytes: 1024 * 1024,
  reduceScatterLongBytes: 512 * 1024,
  alltoallTinyBytes: 256,
  segmentBytes: 256 * 1024,
};

const ENV_NAMES: Record<keyof Thresholds, string> = {
  bcastLargeBytes: 'TSMPI_BCAST_LARGE_BYTES',
  allreduceShortBytes: 'TSMPI_ALLREDUCE_SHORT_BYTES',
  allreduceRingBytes: 'TSMPI_ALLREDUCE_RING_BYTES',
  reduceLargeBytes: 'TSMPI_REDUCE_LARGE_BYTES',
  allgatherShortBytes: 'TSMPI_ALLGATHER_SHORT_BYTES',
  reduceScatterLongBytes: 'TSMPI_REDUCE_SCATTER_LONG_BYTES',
  alltoallTinyBytes: 'TSMPI_ALLTOALL_TINY_BYTES',
  segmentBytes: 'TSMPI_SEGMENT_BYTES',
};

function fromEnv(): Thresholds {
  const t = { ...DEFAULTS };
  for (const key of Object.keys(ENV_NAMES) as Array<keyof Thresholds>) {
    const raw = process.env[ENV_NAMES[key]];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${ENV_NAMES[key]}=${raw}: expected a non-negative integer`);
    t[key] = value;
  }
  if (t.segmentBytes < 1024) throw new RangeError('TSMPI_SEGMENT_BYTES must be at least 1024');
  return t;
}

/** The thresholds in force. */
export const thresholds: Readonly<Thresholds> = fromEnv();

/**
 * A forced algorithm for `collective`: the per-call option wins, then
 * `TSMPI_<COLLECTIVE>_ALGORITHM` (e.g. `TSMPI_ALLREDUCE_ALGORITHM=ring`).
 * Throws `RangeError` for an unknown name.
 */
export function forcedAlgorithm<C extends keyof typeof Algorithms>(collective: C, perCall: string | undefined): number | undefined {
  const envName = `TSMPI_${collective.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_ALGORITHM`;
  const name = perCall ?? process.env[envName];
  if (name === undefined || name === '') return undefined;
  const table = Algorithms[collective] as Record<string, number>;
  const id = table[name];
  if (id === undefined) {
    throw new RangeError(`unknown ${collective} algorithm ${JSON.stringify(name)} (from ${perCall !== undefined ? 'the call' : envName}); known: ${Object.keys(table).join(', ')}`);
  }
  return id;
}

/** The name of algorithm `id` of `collective`, for messages. */
export function algorithmName(collective: keyof typeof Algorithms, id: number): string {
  return Object.entries(Algorithms[collective]).find(([, v]) => v === id)?.[0] ?? String(id);
}

/** Largest power of two <= n (n >= 1). */
export function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}
