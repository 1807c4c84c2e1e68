// The task pool (tsmpi/pool) in real jobs through tsmpirun, and its example against a serial run.
import { describe, expect, it } from 'vitest';
import { dataFiles, fileStats, formatTable } from '../../examples/file-stats-core.js';
import { linesWith, tsmpirun } from '../helpers/tsmpirun.js';

describe('a task pool', () => {
  it.each([2, 4])('on %i ranks: map, imap, imapUnordered, submit, errors, collect, abort, progress and bad input behave as documented', async (n) => {
    const r = await tsmpirun(['-n', String(n), 'test/programs/pool.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'ok ')).toEqual(['map', 'imap', 'submit', 'errors', 'abort and progress', 'bad input']);
  });

  it('startPool: the program after it runs on the root only, and the workers end with status 0 when the pool closes', async () => {
    const r = await tsmpirun(['-n', '3', 'test/programs/pool-main.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'ok ')).toEqual(['manager only']);
  });

  it('without --enable-recovery, ends the job with the status of a worker that dies during a map, naming it', async () => {
    const r = await tsmpirun(['-n', '3', 'test/programs/pool-die.ts']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^tsmpirun: rank 2 \(pid \d+, host \S+\) exited with code 3\n/);
  });

  it('under --enable-recovery, tries a dead worker\'s items once more on the others: the map completes, and tsmpirun exits with its status', async () => {
    const r = await tsmpirun(['--enable-recovery', '-n', '4', 'test/programs/pool-die.ts']);
    expect(r.stderr).toMatch(/^tsmpirun: rank 2 \(pid \d+, host \S+\) exited with code 3; the job goes on \(--enable-recovery\)\n$/);
    expect(linesWith(r.stdout, 'ok ')).toEqual(['retried']);
    expect(r.code).toBe(3);
  });

  it('runs examples/file-stats.ts over every data file of vega-datasets, printing what a serial run computes', async () => {
    const r = await tsmpirun(['-n', '4', 'examples/file-stats.ts']);
    expect(r.code).toBe(0);
    const serial = formatTable(await Promise.all(dataFiles().map(fileStats)));
    expect(r.stdout.trimEnd()).toBe(serial);
    expect(serial).toMatch(/\n\d{2} files, \d+\.\d MiB$/);
  });
});
