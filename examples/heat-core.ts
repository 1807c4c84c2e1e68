// The 2-D heat equation (Laplace, steady state) by Jacobi iteration: the
// pieces shared by the SPMD job (heat.ts) and its serial check.

/** Grid of N x N interior points; the top edge is held at 100 degrees, the others at 0. */
export const N = 64;
export const TOP = 100;
export const TOLERANCE = 5e-3;
export const MAX_ITERATIONS = 5000;

/** Rows [start, end) of the interior owned by `rank` of `size`. */
export function rowRange(rank: number, size: number): [number, number] {
  const base = Math.floor(N / size);
  const extra = N % size;
  const start = rank * base + Math.min(rank, extra);
  return [start, start + base + (rank < extra ? 1 : 0)];
}

/** A block of `rows` interior rows with one halo row above and below, N + 2 columns. */
export function newBlock(rows: number, isTop: boolean): Float64Array {
  const block = new Float64Array((rows + 2) * (N + 2));
  if (isTop) block.fill(TOP, 0, N + 2); // the halo above the first row is the hot edge
  return block;
}

/** One Jacobi sweep of the block's interior rows into `next`; returns the largest change. */
export function sweep(block: Float64Array, next: Float64Array, rows: number): number {
  const w = N + 2;
  let change = 0;
  for (let r = 1; r <= rows; r++) {
    for (let c = 1; c <= N; c++) {
      const i = r * w + c;
      const v = 0.25 * ((block[i - w] as number) + (block[i + w] as number) + (block[i - 1] as number) + (block[i + 1] as number));
      const d = Math.abs(v - (block[i] as number));
      if (d > change) change = d;
      next[i] = v;
    }
  }
  return change;
}

/** Sums of each interior row of a block (row order; the same arithmetic however the rows are split). */
export function rowSums(block: Float64Array, rows: number): Float64Array {
  const sums = new Float64Array(rows);
  for (let r = 1; r <= rows; r++) {
    let s = 0;
    for (let c = 1; c <= N; c++) s += block[r * (N + 2) + c] as number;
    sums[r - 1] = s;
  }
  return sums;
}

/** The summary both runs print: iterations, final change, mean temperature and probes. */
export function summary(iterations: number, change: number, sums: Float64Array, probes: number[]): string {
  const total = sums.reduce((a, b) => a + b, 0);
  return [
    `iterations: ${iterations}`,
    `last change: ${change.toExponential(6)}`,
    `mean temperature: ${(total / (N * N)).toFixed(9)}`,
    `probes (rows N/4, N/2, 3N/4 at the centre column): ${probes.map((p) => p.toFixed(9)).join(', ')}`,
  ].join('\n');
}

/** The whole computation on one process, for checking. */
export function serialHeat(): string {
  let block = newBlock(N, true);
  let next = newBlock(N, true);
  let change = Infinity;
  let iterations = 0;
  while (change > TOLERANCE && iterations < MAX_ITERATIONS) {
    change = sweep(block, next, N);
    [block, next] = [next, block];
    iterations++;
  }
  const probe = (row: number): number => block[(row + 1) * (N + 2) + N / 2] as number;
  return summary(iterations, change, rowSums(block, N), [probe(N / 4), probe(N / 2), probe((3 * N) / 4)]);
}
