// Shared definitions of the OSU-style suite: sizes, iteration counts, result rows.
// The tsmpi, raw-TLS, grpc-js and Open MPI (osu.c) benchmarks follow the same method.

/** One measurement: latency tests give microseconds, bandwidth tests MB/s (10^6 bytes/s). */
export interface Row {
  /** tsmpi: the default paths (shared memory on one host); tsmpi-grpc: `--transport grpc`; openmpi: TCP; openmpi-shm: `--mca btl self,vader`. */
  stack: 'tsmpi' | 'tsmpi-grpc' | 'raw-tls' | 'grpc-js' | 'openmpi' | 'openmpi-shm';
  test: string;
  np: number;
  bytes: number;
  value: number;
  unit: 'us' | 'MB/s';
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const LATENCY_SIZES = [8, 64, KiB, 8 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
export const BANDWIDTH_SIZES = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB];
export const COLLECTIVE_SIZES = [8, 64 * KiB, MiB, 16 * MiB, 64 * MiB];
export const QUICK = { latency: [8, 64 * KiB], bandwidth: [64 * KiB, MiB], collective: [8, 64 * KiB] };

/**
 * The sizes a run measures: the suite's, or {@link QUICK} with `--quick`;
 * `--sizes=8,1048576` (bytes) on the command line keeps only those.
 */
export function suiteSizes(argv: readonly string[] = process.argv): { latency: readonly number[]; bandwidth: readonly number[]; collective: readonly number[] } {
  const all = argv.includes('--quick') ? QUICK : { latency: LATENCY_SIZES, bandwidth: BANDWIDTH_SIZES, collective: COLLECTIVE_SIZES };
  const only = argv.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length).split(',').map(Number);
  const keep = (list: readonly number[]): readonly number[] => (only === undefined ? list : list.filter((b) => only.includes(b)));
  return { latency: keep(all.latency), bandwidth: keep(all.bandwidth), collective: keep(all.collective) };
}
export const COLLECTIVES = ['bcast', 'scatter', 'gather', 'allgather', 'allreduce', 'reduce_scatter', 'alltoall'] as const;

/** Messages in flight per bandwidth iteration (OSU uses 64; fewer for large messages to bound memory). */
export function window(bytes: number): number {
  return Math.min(64, Math.max(2, Math.floor((256 * MiB) / bytes)));
}

/** Timed iterations (after warm-up) for a message size. */
export function iterations(bytes: number, quick: boolean): { warmup: number; timed: number } {
  if (quick) return { warmup: 2, timed: 5 };
  if (bytes >= 16 * MiB) return { warmup: 1, timed: 5 };
  if (bytes >= MiB) return { warmup: 5, timed: 30 };
  if (bytes >= 64 * KiB) return { warmup: 20, timed: 200 };
  return { warmup: 1000, timed: 5000 }; // a long warm-up, as OSU (1000 skipped): the first size must not pay for JIT and connection set-up
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? NaN;
}

export function formatBytes(b: number): string {
  return b >= MiB ? `${b / MiB} MiB` : b >= KiB ? `${b / KiB} KiB` : `${b} B`;
}
