// Seeing inside a job: --trace, debug lines and diagnostics_channel events, SIGUSR1's report,
// mpirun's output options, --info, and `tsmpirun doctor` on this host.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MergedTrace } from '../../launcher/trace.js';
import type { TraceEvent } from '../../src/trace.js';
import { linesWith, tsmpirun } from '../helpers/tsmpirun.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsmpi-observe-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Checks the merged trace of test/programs/traced.ts on `size` ranks. */
function checkTrace(trace: MergedTrace, size: number): void {
  expect(trace.otherData.problems).toEqual([]);
  expect(Object.keys(trace.otherData.clockOffsets)).toHaveLength(size);
  const events = trace.traceEvents;
  const spans = events.filter((e) => e.ph === 'X');
  const rankOf = (e: TraceEvent): number => Math.floor(e.tid / 1000);
  const threadNames = events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name);
  const hostName = events.find((e) => e.ph === 'M' && e.name === 'process_name' && e.pid === 1)?.args?.name;
  expect(hostName).toBe(os.hostname());
  for (let rank = 0; rank < size; rank++) {
    expect(threadNames).toContain(`rank ${rank}`);
    const mine = spans.filter((e) => e.pid === 1 && rankOf(e) === rank);
    const names = mine.map((e) => e.name);
    for (const name of ['start and init', 'bcast', 'allreduce', 'barrier', `send → ${(rank + 1) % size}`, `recv ← ${(rank + size - 1) % size}`]) expect(names, `rank ${rank}`).toContain(name);
    const allreduce = mine.find((e) => e.name === 'allreduce');
    expect(allreduce?.args).toMatchObject({ comm: 'world', algorithm: 'rabenseifner', bytes: 65536 * 8 });
    expect(allreduce?.args?.call).toMatch(/^allreduce\(65536 float64, SUM, algorithm rabenseifner\)$/);
    expect(mine.find((e) => e.name === 'bcast')?.args).toMatchObject({ root: 0, bytes: 4096 * 4 });
    expect(mine.find((e) => e.name.startsWith('send → '))?.args).toMatchObject({ peer: (rank + 1) % size, tag: 1, bytes: 8192 });
    // Spans of one track never overlap: an operation that overlaps another went to another lane.
    for (const tid of new Set(mine.map((e) => e.tid))) {
      const track = mine.filter((e) => e.tid === tid).sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < track.length; i++) expect(track[i]!.ts, `${track[i]!.name} on ${tid}`).toBeGreaterThanOrEqual(track[i - 1]!.ts + (track[i - 1]!.dur ?? 0) - 1e-3);
    }
  }
  // Every send's flow ends at one receive on the destination, not before the send began (clock error allowed).
  const starts = events.filter((e) => e.ph === 's');
  const ends = events.filter((e) => e.ph === 'f');
  expect(starts.length).toBe(size + 2);
  for (const s of starts) {
    const matching = ends.filter((f) => f.id === s.id);
    expect(matching, s.id).toHaveLength(1);
    const [source, dest] = (s.id as string).split('#')[0]!.split('>').map(Number);
    expect(rankOf(s)).toBe(source);
    expect(rankOf(matching[0]!)).toBe(dest);
    const slack = (trace.otherData.clockOffsets[source!]?.errorUs ?? 0) + (trace.otherData.clockOffsets[dest!]?.errorUs ?? 0);
    expect(matching[0]!.ts + slack).toBeGreaterThanOrEqual(s.ts);
  }
  // The ping-pong: rank 0's send of tag 2 begins before rank 1's receive of it ends, and so on back.
  const span = (rank: number, name: string, tag: number): TraceEvent => spans.find((e) => rankOf(e) === rank && e.name === name && e.args?.tag === tag) as TraceEvent;
  // Clocks are aligned to within their offsets' error bounds, which the order may use.
  const slack01 = (trace.otherData.clockOffsets[0]?.errorUs ?? 0) + (trace.otherData.clockOffsets[1]?.errorUs ?? 0);
  expect(span(0, 'send → 1', 2).ts).toBeLessThan(span(1, 'recv ← 0', 2).ts + span(1, 'recv ← 0', 2).dur! + slack01);
  expect(span(1, 'send → 0', 3).ts).toBeLessThan(span(0, 'recv ← 1', 3).ts + span(0, 'recv ← 1', 3).dur! + slack01);
  // The launcher's track: the job, and its wire-up.
  expect(spans.filter((e) => e.pid === 0).map((e) => e.name)).toEqual(['job', 'start ranks and wire-up']);
}

describe('tsmpirun --trace', () => {
  it.each([['shared memory', []], ['gRPC', ['--transport', 'grpc']]] as const)(
    'writes one Chrome trace of every rank (%s): spans of each collective and p2p operation, flows from send to receive, clock offsets',
    async (_, transport) => {
      const file = path.join(dir, `trace-${transport.length}.json`);
      const r = await tsmpirun(['-n', '4', ...transport, '--trace', file, 'test/programs/traced.ts'], { limitMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^tsmpirun: trace of 4 ranks \\(\\d+ spans\\) written to ${file.replace(/[.]/g, '\\.')}: open it in https://ui\\.perfetto\\.dev`, 'm'));
      checkTrace(JSON.parse(readFileSync(file, 'utf8')) as MergedTrace, 4);
    },
  );

  it('refuses, before the job starts, a trace file in a folder it cannot write', async () => {
    const r = await tsmpirun(['-n', '2', '--trace', path.join(dir, 'no', 'such', 'trace.json'), 'examples/hello.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tsmpirun: --trace \S+trace\.json: cannot write there \(ENOENT\)$/m);
    expect(r.stdout).toBe('');
  });

  it('names, in the trace and on stderr, a rank whose trace is missing because it died', async () => {
    const file = path.join(dir, 'trace-crash.json');
    const r = await tsmpirun(['-n', '3', '--trace', file, 'test/programs/crash.ts'], { limitMs: 60_000 });
    expect(r.code).toBe(1);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as MergedTrace;
    expect(trace.otherData.problems.length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/tsmpirun: trace: rank \d: no trace \(it ended without finalize, or died\)/);
  });
});

describe('diagnostics', () => {
  it('prints timestamped [rank@host] debug lines for the collective, p2p and wireup areas', async () => {
    const r = await tsmpirun(['-n', '4', 'test/programs/traced.ts'], { limitMs: 60_000, env: { ...process.env, TSMPI_DEBUG: 'collective,p2p,wireup' } });
    expect(r.code, r.stderr).toBe(0);
    const stamp = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    const host = os.hostname();
    const lines = r.stderr.split('\n');
    for (let rank = 0; rank < 4; rank++) {
      const at = `${stamp} \\[${rank}@${host}\\]`;
      expect(lines.some((l) => new RegExp(`^${at} tsmpi:collective allreduce\\(65536 float64, SUM\\S*.*\\) #\\d+ on world begins$`).test(l)), `rank ${rank}`).toBe(true);
      expect(lines.some((l) => new RegExp(`^${at} tsmpi:collective allreduce\\(65536 float64, SUM, algorithm rabenseifner\\) #\\d+ on world ends: \\d+\\.\\d{3} ms$`).test(l)), `rank ${rank}`).toBe(true);
      expect(lines.some((l) => new RegExp(`^${at} tsmpi:p2p send to rank ${(rank + 1) % 4}, tag 1, 8192 bytes, on world: \\d+\\.\\d{3} ms$`).test(l)), `rank ${rank}`).toBe(true);
      expect(lines.some((l) => new RegExp(`^${at} tsmpi:wireup rank ${rank} of 4 on ${host} ready at `).test(l)), `rank ${rank}`).toBe(true);
    }
  });

  it('publishes the same events as objects on node:diagnostics_channel, without printing them', async () => {
    const r = await tsmpirun(['-n', '2', 'test/programs/diagnostics.ts'], { limitMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const events = linesWith(r.stdout, 'event ').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const rank of [0, 1]) {
      const end = events.find((e) => e.rank === rank && e.event === 'collective-end');
      expect(end).toMatchObject({ area: 'collective', host: os.hostname(), comm: 'world', algorithm: 'recursive_doubling', bytes: 8000 });
      expect(typeof end?.time).toBe('number');
      expect(typeof end?.ms).toBe('number');
      expect(events.some((e) => e.rank === rank && e.event === 'collective-begin')).toBe(true);
    }
    expect(events.find((e) => e.event === 'send-end')).toMatchObject({ area: 'p2p', rank: 0, peer: 1, tag: 4, bytes: 100 });
    expect(events.find((e) => e.event === 'recv-end')).toMatchObject({ area: 'p2p', rank: 1, peer: 0, tag: 4, bytes: 100 });
  });

  it('reports what each rank waits for on SIGUSR1, and the job goes on', async () => {
    let signalled = false;
    let launcher = 0;
    const r = await tsmpirun(['-n', '2', 'test/programs/late-send.ts'], {
      limitMs: 60_000,
      onSpawn: (pid) => (launcher = pid),
      onStdout: (text) => {
        if (signalled || !text.includes('waiting')) return;
        signalled = true;
        setTimeout(() => process.kill(launcher, 'SIGUSR1'), 500);
      },
    });
    expect(signalled).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/tsmpirun: what each rank waits for:\n {2}rank 0 \(pid \d+, host \S+\): recv from rank 1, tag 5, on world, for \d+\.\d s\n {2}rank 1 \(pid \d+, host \S+\): nothing pending\n/);
    expect(r.stdout).toContain('received');
  });
});

describe('output options', () => {
  it('--timestamp-output starts every line with the time; --tag-output adds [rank@host]', async () => {
    const r = await tsmpirun(['-n', '2', '--timestamp-output', '--tag-output', 'examples/hello.ts']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\[[01]@${os.hostname()}\\] `));
  });

  it('--output-filename DIR writes each rank\'s stdout and stderr to DIR/1/rank.N/, and still prints them', async () => {
    const out = path.join(dir, 'out');
    const r = await tsmpirun(['-n', '2', '--output-filename', out, 'sh', '-c', 'echo "out of $TSMPI_COMM_WORLD_RANK"; echo "err of $TSMPI_COMM_WORLD_RANK" >&2']);
    expect(r.code).toBe(0);
    for (const rank of [0, 1]) {
      expect(readFileSync(path.join(out, '1', `rank.${rank}`, 'stdout'), 'utf8')).toBe(`out of ${rank}\n`);
      expect(readFileSync(path.join(out, '1', `rank.${rank}`, 'stderr'), 'utf8')).toBe(`err of ${rank}\n`);
    }
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['out of 0', 'out of 1']);
  });

  it('--output-filename names a folder it cannot make, before any rank starts', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, '');
    const r = await tsmpirun(['-n', '2', '--output-filename', path.join(file, 'out'), 'examples/hello.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tsmpirun: --output-filename \S+a-file\/out: ENOTDIR/);
    expect(r.stdout).toBe('');
  });
});

describe('tsmpirun --info', () => {
  it('prints every TSMPI_* setting with its value and source, the algorithms, transports, ISA and versions', async () => {
    const r = await tsmpirun(['--info', '-x', 'TSMPI_SEGMENT_BYTES=65536', '--transport', 'grpc'], { env: { ...process.env, TSMPI_EAGER_BYTES: '4096', TSMPI_CHUNK_BYTES: 'lots' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tsmpi \d+\.\d+\.\d+\nnode: v\d+/);
    expect(r.stdout).toMatch(/^libraries: @grpc\/grpc-js \d+\.\d+\.\d+, protobufjs .*, openssl /m);
    expect(r.stdout).toMatch(/^reductions: native SIMD kernels \((avx512|avx2|sse2|neon|scalar)\)/m);
    expect(r.stdout).toMatch(/^ {2}allreduce: recursive_doubling, rabenseifner, ring$/m);
    expect(r.stdout).toMatch(/^ {2}TSMPI_EAGER_BYTES +4096 +environment$/m);
    expect(r.stdout).toMatch(/^ {2}TSMPI_CHUNK_BYTES +1048576 +environment \(malformed: default used\)$/m);
    expect(r.stdout).toMatch(/^ {2}TSMPI_SEGMENT_BYTES +65536 +-x TSMPI_SEGMENT_BYTES$/m);
    expect(r.stdout).toMatch(/^ {2}TSMPI_TRANSPORT +grpc +--transport grpc$/m);
    expect(r.stdout).toMatch(/^ {2}TSMPI_ALLREDUCE_SHORT_BYTES +131072 +default$/m);
    expect(r.stdout).toContain('between ranks of one host: mutual-TLS gRPC (--transport grpc)');
  });

  it('--info --json gives the same for tools', async () => {
    const r = await tsmpirun(['--info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as { tsmpi: string; settings: Array<{ name: string; value: string; source: string }>; transports: { sameHost: string }; collectives: Record<string, string[]> };
    expect(info.settings.find((s) => s.name === 'TSMPI_UNEXPECTED_BYTES')).toEqual({ name: 'TSMPI_UNEXPECTED_BYTES', value: String(256 * 1024 * 1024), source: 'default' });
    expect(info.transports.sameHost).toBe('shared memory');
    expect(info.collectives.bcast).toEqual(['binomial', 'scatter_allgather']);
  });
});

describe('tsmpirun doctor', () => {
  it('checks this host and prints a table: Node, tsmpi, kernels, shared memory, TLS 1.3, ports, the program; exit 0', async () => {
    const r = await tsmpirun(['doctor', 'examples/hello.ts'], { limitMs: 60_000 });
    expect(r.code, r.stdout).toBe(0);
    for (const check of ['Node.js', 'tsmpi', 'reductions', 'shared memory', 'mutual TLS 1.3', 'free ports', 'program']) {
      expect(r.stdout).toMatch(new RegExp(`│ this host +│ ${check.replace(/[.]/g, '\\.')} +│ ok +│`));
    }
    expect(r.stdout).toContain('TLSv1.3, both sides verified');
    expect(r.stdout).toContain('examples/hello.ts: found; compiles');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('tsmpirun doctor: ready');
  });

  it('fails naming a missing program, a program that does not compile, and a host it cannot resolve', async () => {
    const bad = path.join(dir, 'bad.ts');
    await writeFile(bad, 'const x: number = ;\n');
    const missing = await tsmpirun(['doctor', 'no/such/app.ts'], { limitMs: 60_000 });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/│ this host +│ program +│ FAIL +│ no\/such\/app\.ts: not found/);
    expect(missing.stdout.trimEnd().split('\n').at(-1)).toBe('tsmpirun doctor: 1 problem: program on this host');
    const broken = await tsmpirun(['doctor', '--json', bad], { limitMs: 60_000 });
    expect(broken.code).toBe(1);
    expect((JSON.parse(broken.stdout) as { rows: Array<{ check: string; status: string; result: string }> }).rows.find((row) => row.check === 'program')).toMatchObject({
      status: 'FAIL',
      result: expect.stringMatching(/bad\.ts does not compile: .*bad\.ts:1:\d+: ERROR: /) as unknown,
    });
    const unknown = await tsmpirun(['doctor', '--json', '-H', 'localhost:1,no-such-host.invalid:1'], { limitMs: 60_000 });
    expect(unknown.code).toBe(1);
    const { rows } = JSON.parse(unknown.stdout) as { rows: Array<{ where: string; check: string; status: string; result: string; fix: string }> };
    expect(rows.find((row) => row.where === 'no-such-host.invalid')).toMatchObject({ check: 'reachable', status: 'FAIL', result: expect.stringMatching(/^cannot resolve no-such-host\.invalid/) as unknown });
  });
});
