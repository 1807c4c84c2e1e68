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
 * A forced algorithm that cannot serve a call (e.g. `ring` for an allreduce
 * of one number) is an error when the call asked for it and is ignored,
 * in favour of the table, when an environment variable did.
 *
 * Starting points from Thakur, Rabenseifner & Gropp (2005) and MPICH's
 * defaults, moved by measurements on this transport (`npm run bench:tune`).
 */

import { SettingsReader } from '../config.js';
import { InvalidArgumentError, type ConfigurationError } from '../errors.js';

/** Algorithms by collective. The numbers travel in collective messages. */
export const Algorithms = {
  /** bcast's algorithms. */
  bcast: {
    /** Binomial tree (MPICH). */
    binomial: 1,
    /** Scatter, then ring allgather (van de Geijn; Thakur et al. 2005, §4.1). */
    scatter_allgather: 2,
  },
  /** allreduce's algorithms. */
  allreduce: {
    /** Recursive doubling: log2(p) exchanges of the whole vector. */
    recursive_doubling: 1,
    /** Reduce-scatter by recursive halving, then allgather by recursive doubling (Rabenseifner 2004). */
    rabenseifner: 2,
    /** Ring reduce-scatter then ring allgather, pipelined in segments (Patarasuk & Yuan 2009). */
    ring: 3,
  },
  /** reduce's algorithms. */
  reduce: {
    /** Binomial tree. */
    binomial: 1,
    /** Reduce-scatter, then gather to the root (Rabenseifner). */
    reduce_scatter_gather: 2,
  },
  /** allgather's algorithms. */
  allgather: {
    /** Recursive doubling (a power-of-two number of ranks). */
    recursive_doubling: 1,
    /** Bruck et al. (1997): log2(p) steps for any number of ranks. */
    bruck: 2,
    /** Ring: p - 1 steps, each rank's block once around. */
    ring: 3,
  },
  /** reduceScatter's algorithms. */
  reduceScatter: {
    /** Recursive halving (commutative ops). */
    recursive_halving: 1,
    /** Pairwise exchange: p - 1 steps. */
    pairwise: 2,
  },
  /** alltoall's algorithms. */
  alltoall: {
    /** Pairwise exchange: p - 1 steps. */
    pairwise: 1,
    /** Bruck et al. (1997), for tiny blocks. */
    bruck: 2,
  },
} as const;

/** The name of one of collective `C`'s algorithms, e.g. `'ring'` for allreduce (per-call `algorithm` option). */
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
  allreduceShortBytes: 128 * 1024,
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

/** The environment variable that forces an algorithm of `collective`, e.g. `TSMPI_ALLREDUCE_ALGORITHM`. */
export function algorithmVariable(collective: keyof typeof Algorithms): string {
  return `TSMPI_${collective.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_ALGORITHM`;
}

/** Reads thresholds and forced algorithms from `reader`'s environment; malformed values keep their defaults and are kept as problems. */
export function loadTuning(reader: SettingsReader): { thresholds: Thresholds; forced: Partial<Record<keyof typeof Algorithms, number>> } {
  const t = { ...DEFAULTS };
  for (const key of Object.keys(ENV_NAMES) as Array<keyof Thresholds>) t[key] = reader.int(ENV_NAMES[key], DEFAULTS[key], key === 'segmentBytes' ? 1024 : 0);
  const forced: Partial<Record<keyof typeof Algorithms, number>> = {};
  for (const collective of Object.keys(Algorithms) as Array<keyof typeof Algorithms>) {
    const table = Algorithms[collective] as Record<string, number>;
    const name = reader.choice(algorithmVariable(collective), Object.keys(table));
    if (name !== undefined) forced[collective] = table[name];
  }
  return { thresholds: t, forced };
}

const reader = new SettingsReader(process.env);
const tuning = loadTuning(reader);

/** The thresholds in force. */
export const thresholds: Readonly<Thresholds> = tuning.thresholds;

/** What is malformed in this process's threshold and algorithm variables. */
export const tuningProblems: readonly ConfigurationError[] = reader.problems;

/** A forced algorithm: its number, and whether the call or the environment forced it. */
export interface Forced {
  id: number;
  /** `call`: the per-call `algorithm` option, an error where it cannot apply; `env`: `TSMPI_<COLLECTIVE>_ALGORITHM`, which applies only where it can. */
  by: 'call' | 'env';
}

/**
 * The forced algorithm of `collective`: the per-call option wins, then
 * `TSMPI_<COLLECTIVE>_ALGORITHM` (e.g. `TSMPI_ALLREDUCE_ALGORITHM=ring`).
 * @throws InvalidArgumentError for an unknown per-call name.
 */
export function forcedAlgorithm<C extends keyof typeof Algorithms>(collective: C, perCall: string | undefined): Forced | undefined {
  const table = Algorithms[collective] as Record<string, number>;
  if (perCall !== undefined) {
    const id = table[perCall];
    if (id === undefined) throw new InvalidArgumentError('algorithm', `unknown ${collective} algorithm ${JSON.stringify(perCall)}; known: ${Object.keys(table).join(', ')}`);
    return { id, by: 'call' };
  }
  const id = tuning.forced[collective];
  return id === undefined ? undefined : { id, by: 'env' };
}

/** The name of algorithm `id` of `collective`, for messages. */
export function algorithmName(collective: keyof typeof Algorithms, id: number): string {
  return Object.entries(Algorithms[collective]).find(([, v]) => v === id)?.[0] ?? String(id);
}

/** Largest power of two <= n (n >= 1). */
export function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}
