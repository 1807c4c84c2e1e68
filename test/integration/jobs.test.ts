// Whole jobs started through tsmpirun over real mTLS gRPC.
import { describe, expect, it } from 'vitest';
import { linesWith, tsmpirun } from '../helpers/tsmpirun.js';

describe.each([1, 2, 3, 4, 5, 6])('a %i-rank job', (n) => {
  it('runs hello: every rank reports its rank and the world size', async () => {
    const r = await tsmpirun(['-n', String(n), 'examples/hello.ts']);
    expect(r.stderr).not.toMatch(/tsmpirun:/);
    expect(r.code).toBe(0);
    const ranks = linesWith(r.stdout, 'hello from rank ').map((l) => l.split(' ').slice(0, 3).join(' '));
    expect(ranks.sort()).toEqual(Array.from({ length: n }, (_, i) => `${i} of ${n}`).sort());
  });

  it.each([
    ['honours MPI point-to-point semantics', 'test/programs/p2p.ts', ['tag selectivity', 'ANY_SOURCE with status', 'non-overtaking 1000', 'self-send', 'every payload type', 'large message', 'receive into out', 'probe']],
    [
      'computes every collective like the serial reference',
      'test/programs/collectives.ts',
      [
        'barrier',
        'bcast, scatter, gather for every root',
        'allreduce and reduce, every op and algorithm',
        'user ops, scan, exscan',
        'reduceScatter, alltoall, alltoallv',
        'split, dup, free',
      ],
    ],
  ])('%s', async (_, program, checks) => {
    const r = await tsmpirun(['-n', String(n), program]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'ok ')).toEqual(checks);
  });
});

describe('the path between ranks of one host', () => {
  // This file runs twice: as is (shared memory by default) and with TSMPI_TRANSPORT=grpc.
  const forced = process.env.TSMPI_TRANSPORT === 'grpc';
  it(forced ? 'is mutual-TLS gRPC for every pair under TSMPI_TRANSPORT=grpc' : 'is shared memory by default', async () => {
    const r = await tsmpirun(['-n', '3', 'test/programs/ping.ts'], { env: { ...process.env, TSMPI_DEBUG: 'transport' } });
    expect(r.code).toBe(0);
    const paths = r.stderr.split('\n').filter((l) => / gRPC with other hosts$/.test(l));
    expect(paths).toHaveLength(3);
    for (const line of paths) {
      expect(line).toContain(forced ? 'gRPC with the ranks of this host (TSMPI_TRANSPORT=grpc)' : 'shared memory with the other ranks of this host');
    }
  });
});

describe('non-default transport settings', () => {
  it.each([
    ['small chunks, a small eager limit, the smallest window', { TSMPI_CHUNK_BYTES: '4096', TSMPI_EAGER_BYTES: '8192', TSMPI_FLOW_CONTROL_WINDOW: '65535' }],
    ['chunks larger than the eager limit, everything above 1 KiB by rendezvous', { TSMPI_CHUNK_BYTES: '4194304', TSMPI_EAGER_BYTES: '1024' }],
    ['the smallest shared-memory rings (64 KiB: large messages wrap many times)', { TSMPI_SHM_RING_BYTES: '65536' }],
  ])('keep MPI point-to-point semantics and the collectives with %s', async (_, settings) => {
    for (const program of ['test/programs/p2p.ts', 'test/programs/collectives.ts']) {
      const r = await tsmpirun(['-n', '3', program], { env: { ...process.env, ...settings } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(linesWith(r.stdout, 'ok ').length).toBeGreaterThan(5);
    }
  });

  it('refuses, at the sender, a message above the receiver\'s TSMPI_MAX_MESSAGE_BYTES, and the link survives', async () => {
    const r = await tsmpirun(['-n', '2', 'test/programs/oversize.ts'], { env: { ...process.env, TSMPI_MAX_MESSAGE_BYTES: '100000' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rank 0 caught ERR_TSMPI_INVALID_ARGUMENT: invalid data: 200000 bytes: rank 1 accepts messages of at most 100000 bytes (its TSMPI_MAX_MESSAGE_BYTES)');
    expect(r.stdout).toContain('rank 1 got 1000 bytes after it');
  });
});

describe('examples', () => {
  it('heat gives exactly the serial result on 1 and 4 ranks', async () => {
    const { serialHeat } = await import('../../examples/heat-core.js');
    const serial = serialHeat();
    for (const n of ['1', '4']) {
      const r = await tsmpirun(['-n', n, 'examples/heat.ts']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(serial);
    }
  });

  it('heat with TSMPI_ALLREDUCE_ALGORITHM=ring uses ring where it can (the convergence check is an allreduce of one number) and still gives the serial result', async () => {
    const { serialHeat } = await import('../../examples/heat-core.js');
    const r = await tsmpirun(['-n', '4', 'examples/heat.ts'], { env: { ...process.env, TSMPI_ALLREDUCE_ALGORITHM: 'ring' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(serialHeat());
  });

  it('data-parallel training on iris reaches the accuracy of one rank', async () => {
    const one = await tsmpirun(['-n', '1', 'examples/train-iris.ts']);
    const four = await tsmpirun(['-n', '4', 'examples/train-iris.ts']);
    expect(one.code).toBe(0);
    expect(four.code).toBe(0);
    const accuracyOf = (out: string): string => /train accuracy (.*)$/m.exec(out)?.[1] ?? 'none';
    expect(accuracyOf(four.stdout)).toBe(accuracyOf(one.stdout));
    expect(Number(/test accuracy ([\d.]+) %/.exec(four.stdout)?.[1])).toBeGreaterThan(90);
    const losses = (out: string): number[] => [...out.matchAll(/loss ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(losses(four.stdout)).toHaveLength(4);
    losses(four.stdout).forEach((loss, i) => expect(loss).toBeCloseTo(losses(one.stdout)[i]!, 6));
  });

  it('ring passes the token through every rank', async () => {
    const r = await tsmpirun(['-n', '4', 'examples/ring.ts']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ring of 4: sum of ranks = 6, path = 0 -> 1 -> 2 -> 3 -> 0');
  });

  it('flights prints the same table as a serial computation', async () => {
    const { formatTable, loadFlights, partialStats } = await import('../../examples/flights-stats.js');
    const serial = partialStats(await loadFlights());
    const r = await tsmpirun(['-n', '4', 'examples/flights.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('flights per rank: 50000, 50000, 50000, 50000');
    expect(r.stdout).toContain(formatTable(serial.sums, serial.maxDelay));
    expect(r.stdout).toContain('200000 flights');
  });
});
