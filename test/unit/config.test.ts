import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { checkEnvironment } from '../../src/environment.js';

describe('TSMPI_* settings', () => {
  it('names the variable, its value and what it accepts for each malformed one, and keeps the defaults', () => {
    const { problems } = checkEnvironment({
      TSMPI_CHUNK_BYTES: '12k',
      TSMPI_FLOW_CONTROL_WINDOW: '100',
      TSMPI_DEBUG: 'transport,wires',
      TSMPI_BCAST_ALGORITHM: 'tree',
      TSMPI_NATIVE_ISA: 'avx3',
      TSMPI_SEGMENT_BYTES: '-1',
    });
    expect(problems.every((p) => p instanceof ConfigurationError && p.code === 'ERR_TSMPI_CONFIG')).toBe(true);
    expect(problems.map((p) => p.message)).toEqual([
      'TSMPI_NATIVE_ISA=avx3: expected one of avx512, avx512-zmm, avx2, sse2, neon, scalar',
      'TSMPI_CHUNK_BYTES=12k: expected an integer >= 1024',
      'TSMPI_FLOW_CONTROL_WINDOW=100: expected an integer from 65535 to 2147483647',
      'TSMPI_DEBUG=transport,wires: expected a comma-separated list of transport, wireup, collective, p2p, all',
      'TSMPI_SEGMENT_BYTES=-1: expected an integer >= 1024',
      'TSMPI_BCAST_ALGORITHM=tree: expected one of binomial, scatter_allgather',
    ]);
    expect(problems[1]).toMatchObject({ variable: 'TSMPI_CHUNK_BYTES', value: '12k', accepted: 'an integer >= 1024' });
  });

  it('accepts well-formed settings and tells misspelt names from the launcher\'s own variables', () => {
    const { problems, unknown, settings } = checkEnvironment({ TSMPI_EAGER_BYTES: '4096', TSMPI_ALLREDUCE_ALGORITHM: 'ring', TSMPI_EAGRE_BYTES: '1', TSMPI_COMM_WORLD_RANK: '0' });
    expect(problems).toEqual([]);
    expect(unknown).toEqual(['TSMPI_EAGRE_BYTES']);
    expect(settings).toContain('TSMPI_EAGER_BYTES');
  });
});
