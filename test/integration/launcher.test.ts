// tsmpirun's own behaviour: exit status, failure reports, timeouts, signals, output, environment.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linesWith, tsmpirun } from '../helpers/tsmpirun.js';
import { alive, eventually } from '../helpers/processes.js';


describe('tsmpirun', () => {
  it('exits with the first failing rank status and names it', async () => {
    const r = await tsmpirun(['-n', '3', 'test/programs/fail-recv.ts']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/tsmpirun: rank 1 \(pid \d+, host \S+\) exited with code 3/);
  });

  it('rejects a receive from a rank that died with PeerFailedError naming it', async () => {
    const r = await tsmpirun(['-n', '2', 'test/programs/fail-recv.ts']);
    expect(r.stdout).toMatch(/rank 0 caught ERR_TSMPI_PEER_FAILED naming rank 1 on \S+ in recv/);
  });

  it('stops the whole job on an uncaught exception and prints its cause last: the rank, its error and stack, then how many ranks stopped', async () => {
    const r = await tsmpirun(['-n', '4', 'test/programs/crash.ts']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    const head = lines.findIndex((l) => /^tsmpirun: rank 2 \(pid \d+, host \S+\) failed: (uncaught exception|unhandled rejection): TypeError: boom from rank 2$/.test(l));
    expect(head, r.stderr).toBeGreaterThanOrEqual(0);
    // The cause is the last block: its stack frames (the program's line first), then the count of stopped ranks.
    const block = lines.slice(head + 1);
    expect(block.at(-1)).toBe('tsmpirun: 3 other ranks stopped (3 in barrier)');
    expect(block[0]).toMatch(/^\s+at .*crash\.ts:5:\d+/);
    for (const frame of block.slice(0, -1)) expect(frame).toMatch(/^\s+at /);
    // Before it, at most one line for each of the 3 survivors, and no grpc-js internals.
    expect(head).toBeLessThanOrEqual(3);
    expect(r.stderr).not.toMatch(/grpc|ECONNREFUSED|Resolution note|PeerFailedError/);
  });

  it('ends the job with the code given to abort()', async () => {
    const r = await tsmpirun(['-n', '3', 'test/programs/abort.ts']);
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/tsmpirun: rank 1 called abort\(9\): rank 1 gives up/);
  });

  it('aborts on --timeout, naming the ranks still running, and leaves no process behind', async () => {
    let pids: number[] = [];
    const r = await tsmpirun(['-n', '3', '--timeout', '4', 'test/programs/wait-forever.ts'], {
      onStdout: (text) => (pids = linesWith(text, 'ready ').map((l) => Number(l.split(' ')[1]))),
    });
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/tsmpirun: timeout after 4 s; ranks still running: 0 \(pid \d+\), 1 \(pid \d+\), 2 \(pid \d+\)/);
    expect(pids).toHaveLength(3);
    expect(await eventually(() => pids.every((pid) => !alive(pid)), 10_000, 50)).toBe(true);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('ends every rank when it receives %s', async (signal) => {
    let pids: number[] = [];
    let launcher = -1;
    const done = tsmpirun(['-n', '3', 'test/programs/wait-forever.ts'], {
      onSpawn: (pid) => (launcher = pid),
      onStdout: (text) => (pids = linesWith(text, 'ready ').map((l) => Number(l.split(' ')[1]))),
    });
    expect(await eventually(() => pids.length === 3, 30_000, 50)).toBe(true);
    process.kill(launcher, signal);
    const r = await done;
    expect(r.code).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(await eventually(() => pids.every((pid) => !alive(pid)), 10_000, 50)).toBe(true);
  });

  it('runs non-Node programs as executables and passes their arguments', async () => {
    const r = await tsmpirun(['-n', '3', 'sh', '-c', 'echo "rank $TSMPI_COMM_WORLD_RANK of $TSMPI_COMM_WORLD_SIZE"']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['rank 0 of 3', 'rank 1 of 3', 'rank 2 of 3']);
  });

  it('accepts -np and --oversubscribe, and reports a non-zero exit of an executable', async () => {
    const r = await tsmpirun(['-np', '2', '--oversubscribe', 'sh', '-c', 'exit $((TSMPI_COMM_WORLD_RANK * 7))']);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/rank 1 \(pid \d+, host \S+\) exited with code 7/);
  });

  it('prefixes lines with --tag-output as [rank@host] and never interleaves inside a line', async () => {
    const r = await tsmpirun(['-n', '3', '--tag-output', 'test/programs/lines.ts']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(600);
    for (const line of lines) {
      const m = new RegExp(`^\\[(\\d)@${os.hostname()}\\] L(\\d):(\\d+):(\\d+)$`).exec(line);
      expect(m, line.slice(0, 40)).not.toBeNull();
      const [, tag, rank, , body] = m as RegExpExecArray;
      expect(rank).toBe(tag);
      expect(body).toBe(String(rank).repeat(3000));
    }
  });

  it('exports -x variables, and no private key or token reaches argv or the environment', async () => {
    const r = await tsmpirun(['-n', '2', '-x', 'FOO=bar', '-x', 'BAR', 'test/programs/secrets.ts'], {
      env: { ...process.env, BAR: 'from-launcher' },
    });
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'rank ').sort()).toEqual([
      '0 secrets-visible=none FOO=bar BAR=from-launcher',
      '1 secrets-visible=none FOO=bar BAR=from-launcher',
    ]);
  });

  it('fails the job when a rank that called init() exits 0 without finalize()', async () => {
    const r = await tsmpirun(['-n', '2', '--timeout', '30', 'test/programs/no-finalize.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rank 1 \(pid \d+, host \S+\) exited with code 0 without calling finalize\(\)/);
  });

  it.each([1, 4])('finalizes a %i-rank program that ends without calling finalize(), and exits 0', async (n) => {
    const r = await tsmpirun(['-n', String(n), 'test/programs/ends-without-finalize.ts'], { limitMs: 30_000 });
    expect(r.signal).toBeNull(); // not killed by the limit: it did not hang
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const sum = (n * (n + 1)) / 2;
    expect(linesWith(r.stdout, 'rank ').sort()).toEqual(Array.from({ length: n }, (_, i) => `${i} sum ${sum}`));
  });

  it.each([
    ['recv', /rank 1 \(pid \d+, host \S+\) failed: .*PeerFailedError: recv: rank 0 \(\S+\) failed: it finalized/],
    ['allreduce', /rank [123] \(pid \d+, host \S+\) failed: .*PeerFailedError: allreduce: rank 0 \(\S+\) failed: it finalized/],
  ])('fails the job, naming both ranks, when a rank ends while another waits for it in %s', async (op, expected) => {
    const r = await tsmpirun(['-n', '3', 'test/programs/ends-early.ts', op], { limitMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(expected);
  });

  it('lets a TypeScript program that never calls init() exit normally', async () => {
    const r = await tsmpirun(['-n', '2', '--timeout', '30', 'test/programs/no-init.ts']);
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'plain program, rank ').sort()).toEqual(['0', '1']);
  });

  it('owes no finalize() for programs that never called init()', async () => {
    const r = await tsmpirun(['-n', '2', '--timeout', '30', 'sh', '-c', 'exit 0']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  for (const bundle of [true, false]) {
    it(`runs a TypeScript program ${bundle ? 'compiled once by the launcher' : 'under tsx (--no-bundle)'} as itself: import.meta.url, argv[1] and stack frames name the .ts file`, async () => {
      const program = path.resolve('test/programs/where.ts');
      const r = await tsmpirun(['-n', '2', ...(bundle ? [] : ['--no-bundle']), program]);
      expect(r.code).toBe(0);
      const lines = linesWith(r.stdout, 'rank ');
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        expect(line).toContain(`url ${program} argv1 ${program} frame`);
        expect(line).toMatch(/where\.ts:6:\d+/); // line 6 of the TypeScript source
      }
    });
  }

  it('reports a TypeScript program that does not compile, with file and line, and starts no rank', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsmpi-test-'));
    const program = path.join(dir, 'broken.ts');
    await writeFile(program, "const x: number = ;\n");
    try {
      const r = await tsmpirun(['-n', '2', program]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/tsmpirun: cannot compile .*broken\.ts: [\s\S]*broken\.ts:1/);
      expect(r.stderr).not.toMatch(/rank \d/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad options with a clear message naming the option and value, and suggests the close option', async () => {
    const r = await tsmpirun(['-n', '0', 'examples/hello.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tsmpirun: -n 0: expected a positive integer');
    const four = await tsmpirun(['-n', 'four', 'examples/hello.ts']);
    expect(four.code).toBe(2);
    expect(four.stderr).toContain('tsmpirun: -n four: expected a positive integer');
    const timeout = await tsmpirun(['--timeout', 'soon', 'examples/hello.ts']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('tsmpirun: --timeout soon: expected a positive number');
    const typo = await tsmpirun(['--tag-ouput', '-n', '2', 'examples/hello.ts']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown option --tag-ouput (did you mean --tag-output?)');
    const missing = await tsmpirun(['-n', '2', 'examples/no-such-program.ts']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('tsmpirun: cannot find the program examples/no-such-program.ts');
  });

  it('warns when -n comes after the program (where it is the program\'s argument, as with mpirun)', async () => {
    const r = await tsmpirun(['examples/hello.ts', '-n', '2']);
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'hello from rank ')).toHaveLength(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      "tsmpirun: warning: -n 2 comes after the program, so it is passed to the program and 1 rank starts; put tsmpirun's options first: tsmpirun -n 2 examples/hello.ts ...",
    ]);
  });

  it('refuses a malformed TSMPI_* setting before any rank starts, naming the variable, its value and what it accepts; warns of a misspelt one', async () => {
    const r = await tsmpirun(['-n', '2', 'examples/hello.ts'], { env: { ...process.env, TSMPI_CHUNK_BYTES: 'lots', TSMPI_ALLREDUCE_ALGORITHM: 'rign' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('tsmpirun: TSMPI_CHUNK_BYTES=lots: expected an integer >= 1024');
    expect(r.stderr).toContain('tsmpirun: TSMPI_ALLREDUCE_ALGORITHM=rign: expected one of recursive_doubling, rabenseifner, ring');
    const typo = await tsmpirun(['-n', '1', 'examples/hello.ts'], { env: { ...process.env, TSMPI_EAGER_BYTE: '4096' } });
    expect(typo.code).toBe(0);
    expect(typo.stderr).toContain('tsmpirun: warning: TSMPI_EAGER_BYTE is not a tsmpi setting (did you mean TSMPI_EAGER_BYTES?)');
  });
});
