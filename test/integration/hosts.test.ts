// Jobs across simulated hosts (network namespaces, test/helpers/cluster.ts):
// ssh and Slurm launch, mapping, address choice, and every cross-host fault,
// each ending with a non-zero exit that names rank and host, and no process
// of the job left on any host.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterUnavailable, startCluster, type Cluster } from '../helpers/cluster.js';
import { CLI, linesWith, ROOT, tsmpirun, type RunResult } from '../helpers/tsmpirun.js';
import { eventually } from '../helpers/processes.js';

const unavailable = clusterUnavailable({ slurm: true });
if (unavailable) console.log(`multi-host tests skipped: ${unavailable}`);

const SIX = ['-H', 'h1:2,h2:2,h3:2'];


describe.skipIf(unavailable !== undefined)('jobs across hosts', () => {
  let cluster: Cluster;
  const leftovers = (): string[] =>
    cluster.hosts.flatMap((h) => cluster.jobPids(h).map((pid) => `${h.name}: ${readCmdline(pid)}`)).filter((line) => !line.endsWith(': '));
  const run = (args: string[], options: Parameters<typeof tsmpirun>[1] = {}): Promise<RunResult> => tsmpirun(args, { limitMs: 90_000, env: cluster.env, ...options });
  /** Runs `args`, calls `act` once every rank printed `ready <rank> <pid> <host>`, and returns the result with the time from `act` to the exit. */
  const withReady = async (args: string[], size: number, act: (ready: Array<{ rank: number; pid: number; host: string }>) => void): Promise<RunResult & { afterMs: number }> => {
    let acted = 0;
    const r = await run(args, {
      onStdout: (text) => {
        const ready = linesWith(text, 'ready ').map((l) => l.split(' ')).map(([rank, pid, host]) => ({ rank: Number(rank), pid: Number(pid), host: host as string }));
        if (acted === 0 && ready.length === size) {
          acted = Date.now();
          act(ready);
        }
      },
    });
    return { ...r, afterMs: Date.now() - acted };
  };

  beforeAll(async () => {
    cluster = await startCluster({ count: 3, slurm: true, secondNetwork: true });
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('prints the flights table of one host, from 6 ranks on 3 hosts started through ssh', async () => {
    const { formatTable, loadFlights, partialStats } = await import('../../examples/flights-stats.js');
    const serial = partialStats(await loadFlights());
    const r = await run([...SIX, 'examples/flights.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('flights per rank: 33333, 33333, 33334, 33333, 33333, 33334');
    expect(r.stdout).toContain(formatTable(serial.sums, serial.maxDelay));
    expect(leftovers()).toEqual([]);
  });

  it('prints the same table inside a Slurm allocation: salloc -N 3 -n 6 tsmpirun, hosts and slots from the allocation', async () => {
    const { formatTable, loadFlights, partialStats } = await import('../../examples/flights-stats.js');
    const serial = partialStats(await loadFlights());
    const r = spawnSync('salloc', ['-N', '3', '-n', '6', process.execPath, CLI, '--display-map', 'examples/flights.ts'], { cwd: ROOT, env: cluster.env, encoding: 'utf8', timeout: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('job map: 6 ranks on 3 hosts (hosts from the Slurm allocation, --map-by slot)');
    expect(r.stdout).toContain(formatTable(serial.sums, serial.maxDelay));
    expect(await eventually(() => leftovers().length === 0, 5000, 200)).toBe(true);
  });

  it('computes every collective like the serial reference on 6 ranks over 3 hosts', async () => {
    const r = await run([...SIX, 'test/programs/collectives.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'ok ')).toHaveLength(6);
  });

  it('runs a task pool over 3 hosts with nothing extra: workers on every host import the task from their own file system', async () => {
    const r = await run([...SIX, 'test/programs/pool.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'ok ')).toEqual(['map', 'imap', 'submit', 'errors', 'abort and progress', 'bad input']);
  });

  it('maps by node and shows the map; ranks see their host, local rank and size, node, and their shared-memory communicator', async () => {
    const r = await run([...SIX, '--map-by', 'node', '--display-map', 'test/programs/placement.ts']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain([
        'job map: 6 ranks on 3 hosts (hosts from -H, --map-by node)',
        '  host  slots  ranks  between its ranks',
        '  h1    2      0, 3   shared memory',
        '  h2    2      1, 4   shared memory',
        '  h3    2      2, 5   shared memory',
        '  between hosts: mutual-TLS 1.3 gRPC (@grpc/grpc-js)',
      ].join('\n'));
    const rows = linesWith(r.stdout, 'rank ').map((l) => l.replace(/ pid \d+/, '')).sort();
    expect(rows).toEqual([
      '0 host h1 local 0/2 node 0 shared 0,3 hostOf0 h1',
      '1 host h2 local 0/2 node 1 shared 1,4 hostOf0 h1',
      '2 host h3 local 0/2 node 2 shared 2,5 hostOf0 h1',
      '3 host h1 local 1/2 node 0 shared 0,3 hostOf0 h1',
      '4 host h2 local 1/2 node 1 shared 1,4 hostOf0 h1',
      '5 host h3 local 1/2 node 2 shared 2,5 hostOf0 h1',
    ]);
  });

  it('refuses more ranks than slots, naming the hosts, unless --oversubscribe', async () => {
    const r = await run(['-n', '7', ...SIX, 'examples/hello.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tsmpirun: 7 ranks do not fit in the 6 slots of h1 (2 slots), h2 (2 slots), h3 (2 slots)');
  });

  it('ends the job when a rank on another host is killed (kill -9), naming rank and host, leaving nothing on any host', async () => {
    const r = await withReady([...SIX, 'test/programs/allreduce-loop.ts'], 6, (ready) => process.kill(ready.find((x) => x.rank === 3)!.pid, 'SIGKILL'));
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/tsmpirun: rank 3 \(pid \d+, host h2\) was killed by signal SIGKILL\ntsmpirun: 5 other ranks stopped( \(5 in allreduce\))?\n$/);
    expect(r.afterMs).toBeLessThan(10_000);
    expect(await eventually(() => leftovers().length === 0, 5000, 200), leftovers().join('\n')).toBe(true);
  });

  it('ends the job when a host agent is killed (kill -9), naming the host and its ranks', async () => {
    const r = await withReady([...SIX, 'test/programs/allreduce-loop.ts'], 6, () => {
      const agent = cluster.jobPids(cluster.hosts[1]!).find((pid) => readCmdline(pid).includes('bin/agent.js'));
      process.kill(agent!, 'SIGKILL');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tsmpirun: host h2: its agent's connection ended .*; its ranks 2, 3 are gone\ntsmpirun: 4 other ranks stopped( \(\d in allreduce\))?\n$/);
    expect(r.afterMs).toBeLessThan(10_000);
    expect(await eventually(() => leftovers().length === 0, 5000, 200), leftovers().join('\n')).toBe(true);
  });

  it("ends the job within 10 s when a host's link goes down mid-collective; its agent stops its ranks", async () => {
    const h2 = cluster.hosts[1]!;
    try {
      const r = await withReady([...SIX, 'test/programs/allreduce-loop.ts'], 6, () => cluster.exec(h2, ['ip', 'link', 'set', 'eth0', 'down']));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/tsmpirun: host h2: no heartbeat from its agent for 5000 ms: the host or its link is down; its ranks 2, 3 are gone\ntsmpirun: 4 other ranks stopped( \(\d in allreduce\))?\n$/);
      expect(r.afterMs).toBeLessThan(10_000);
      // The agent, cut off, hears nothing from the launcher either and stops its ranks.
      expect(await eventually(() => leftovers().length === 0, 10_000, 200), leftovers().join('\n')).toBe(true);
    } finally {
      cluster.exec(h2, ['ip', 'link', 'set', 'eth0', 'up']);
    }
  });

  it('keeps a rank that computes for 120 s without yielding to the event loop: busy is not dead', async () => {
    const r = await run([...SIX, 'test/programs/busy.ts', '120'], { limitMs: 240_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'rank ').filter((l) => l.endsWith('sum 15'))).toHaveLength(6);
  }, 250_000);

  it('fails with a clear message when a host cannot be reached', async () => {
    const r = await run(['-H', 'h1:1,10.77.0.9:1', 'examples/hello.ts'], { env: { ...cluster.env, TSMPI_RSH: `${cluster.env.TSMPI_RSH} -o ConnectTimeout=2` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tsmpirun: host 10\.77\.0\.9: cannot start its agent with ssh \(exit status 255\): .*10\.77\.0\.9.*; its rank 1 is gone/);
    expect(await eventually(() => leftovers().length === 0, 5000, 200), leftovers().join('\n')).toBe(true);
  });

  it('--trace merges the spans of ranks on 3 hosts: a process per host, every rank, every send matched by its receive, a clock offset per rank', async () => {
    const file = path.join(os.tmpdir(), `tsmpi-hosts-trace-${process.pid}.json`);
    try {
      const r = await run([...SIX, '--trace', file, 'test/programs/traced.ts']);
      expect(r.code, r.stderr).toBe(0);
      const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Array<{ ph: string; name: string; pid: number; tid: number; id?: string; ts: number; args?: { name?: string } }>; otherData: { problems: string[]; clockOffsets: Record<string, unknown> } };
      expect(trace.otherData.problems).toEqual([]);
      expect(Object.keys(trace.otherData.clockOffsets)).toHaveLength(6);
      const hostsNamed = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.args?.name);
      expect(hostsNamed).toEqual(['tsmpirun', 'h1', 'h2', 'h3']);
      for (let rank = 0; rank < 6; rank++) {
        const mine = trace.traceEvents.filter((e) => e.ph === 'X' && e.pid !== 0 && Math.floor(e.tid / 1000) === rank);
        expect(new Set(mine.map((e) => e.pid)), `rank ${rank}`).toEqual(new Set([Math.floor(rank / 2) + 1]));
        expect(mine.map((e) => e.name)).toEqual(expect.arrayContaining(['start and init', 'allreduce', 'bcast', 'barrier']));
      }
      const ends = new Set(trace.traceEvents.filter((e) => e.ph === 'f').map((e) => e.id));
      const starts = trace.traceEvents.filter((e) => e.ph === 's');
      expect(starts).toHaveLength(8);
      for (const s of starts) expect(ends.has(s.id), s.id).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('--output-filename and --tag-output work for ranks on other hosts: a file per rank and stream, [rank@host] on every line', async () => {
    const out = path.join(os.tmpdir(), `tsmpi-hosts-out-${process.pid}`);
    try {
      const r = await run(['-H', 'h1:1,h2:1', '--tag-output', '--output-filename', out, 'sh', '-c', 'echo "out of $TSMPI_COMM_WORLD_RANK"; [ $TSMPI_COMM_WORLD_RANK = 1 ] && echo "err of 1" >&2; true']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['[0@h1] out of 0', '[1@h2] out of 1']);
      for (const rank of [0, 1]) expect(readFileSync(path.join(out, '1', `rank.${rank}`, 'stdout'), 'utf8')).toBe(`out of ${rank}\n`);
      expect(readFileSync(path.join(out, '1', 'rank.0', 'stderr'), 'utf8')).toBe('');
      expect(readFileSync(path.join(out, '1', 'rank.1', 'stderr'), 'utf8')).toBe('err of 1\n');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('doctor checks every host through ssh (agent, same tsmpi, Node, clock skew, addresses) and names an unreachable one and a missing install', async () => {
    const env = { ...cluster.env, TSMPI_RSH: `${cluster.env.TSMPI_RSH} -o ConnectTimeout=2` };
    type Row = { where: string; check: string; status: string; result: string; fix?: string };
    const rowsOf = (r: RunResult): Row[] => (JSON.parse(r.stdout) as { rows: Row[] }).rows;
    const r = await run(['doctor', '--json', '-H', 'h1:1,h2:1,10.77.0.9:1', 'examples/hello.ts'], { env });
    expect(r.code).toBe(1);
    const rows = rowsOf(r);
    for (const host of ['h1', 'h2']) {
      const mine = rows.filter((row) => row.where === host);
      expect(mine.map((row) => `${row.check}: ${row.status}`)).toEqual(['reachable: ok', 'agent through ssh: ok', 'tsmpi: ok', 'Node.js: ok', 'clock skew: ok', 'addresses: ok', 'reductions: ok']);
      expect(mine.find((row) => row.check === 'addresses')?.result).toMatch(/^its ranks would advertise 10\.77\.0\.\d/);
    }
    expect(rows.filter((row) => row.where === '10.77.0.9')).toEqual([expect.objectContaining({ check: 'reachable', status: 'FAIL' })]);
    const table = await run(['doctor', '-H', 'h1:1,h2:1', 'examples/hello.ts'], { env });
    expect(table.code, table.stdout).toBe(0);
    expect(table.stdout.trimEnd().split('\n').at(-1)).toBe('tsmpirun doctor: ready');
    const elsewhere = await run(['doctor', '--json', '--prefix', '/opt/no-tsmpi', '-H', 'h1:1'], { env });
    expect(elsewhere.code).toBe(1);
    expect(rowsOf(elsewhere).find((row) => row.where === 'h1' && row.check === 'agent through ssh')).toMatchObject({ status: 'FAIL', fix: expect.stringContaining('install tsmpi') as unknown });
  });

  it("gives the table of a peer's tried addresses, within the connect timeout, when none can be reached", async () => {
    const h1 = cluster.hosts[0]!;
    cluster.exec(h1, ['ip', 'route', 'add', 'unreachable', '10.77.0.3/32']);
    cluster.exec(h1, ['ip', 'route', 'add', 'unreachable', '10.78.0.3/32']);
    try {
      const r = await run(['-H', 'h1:1,h2:1,h3:1', '--if-include', '10.77.0.0/24,10.78.0.0/24', 'test/programs/ping.ts'], { env: { ...cluster.env, TSMPI_CONNECT_TIMEOUT_MS: '8000' } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/rank 0 \(pid \d+, host h1\) failed: .*PeerFailedError: send: rank 2 \(h3\) failed: cannot connect to it; tried:\n {2}10\.77\.0\.3:\d+ +host unreachable\n {2}10\.78\.0\.3:\d+ +host unreachable\n/);
    } finally {
      cluster.exec(h1, ['ip', 'route', 'del', 'unreachable', '10.77.0.3/32']);
      cluster.exec(h1, ['ip', 'route', 'del', 'unreachable', '10.78.0.3/32']);
    }
  });

  it('with two networks, --if-include puts ranks and the coordinator on the one it names', async () => {
    const r = await run(['-H', 'h1:1,h2:1,h3:1', '--if-include', '10.78.0.0/24', 'test/programs/ping.ts'], { env: { ...cluster.env, TSMPI_DEBUG: 'transport,wireup' } });
    expect(r.code).toBe(0);
    const dialled = r.stderr.split('\n').filter((l) => / dialled rank \d+ at /.test(l));
    expect(dialled.length).toBeGreaterThan(0);
    for (const line of dialled) expect(line).toMatch(/ at 10\.78\.0\.\d:\d+$/);
    const ready = r.stderr.split('\n').filter((l) => / ready at /.test(l));
    expect(ready).toHaveLength(3);
    for (const line of ready) expect(line).toMatch(/ ready at 127\.0\.0\.1:\d+, 10\.78\.0\.\d:\d+; coordinator at 10\.78\.0\.254:\d+$/);
  });

  it('stops every process on every host on SIGINT to the launcher', async () => {
    let launcher = -1;
    let pids: number[] = [];
    const done = run([...SIX, 'test/programs/allreduce-loop.ts'], {
      onSpawn: (pid) => (launcher = pid),
      onStdout: (text) => {
        pids = linesWith(text, 'ready ').map((l) => Number(l.split(' ')[1]));
        if (pids.length === 6) process.kill(launcher, 'SIGINT');
      },
    });
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/tsmpirun: received SIGINT\ntsmpirun: 6 ranks stopped( \(.*\))?\n$/);
    expect(await eventually(() => leftovers().length === 0, 5000, 200), leftovers().join('\n')).toBe(true);
  });

  it('puts no secret in the argv or environment of agents and ranks on any host, and leaves the program in a private folder of the agent', async () => {
    const seen: string[] = [];
    const r = await withReady([...SIX, 'test/programs/allreduce-loop.ts', '3'], 6, (ready) => {
      for (const host of cluster.hosts) for (const pid of cluster.jobPids(host)) seen.push(`${readProc(pid, 'cmdline')}\n${readProc(pid, 'environ')}`);
      for (const { pid, host } of ready.filter((x) => x.host !== 'h1')) {
        const bundle = readProc(pid, 'cmdline').split('\0').find((a) => a.endsWith('.mjs'))!;
        const dir = path.dirname(bundle);
        seen.push(`${host} dir ${(statSync(dir).mode & 0o777).toString(8)} file ${(statSync(bundle).mode & 0o777).toString(8)} entries ${readdirSync(dir).length}`);
      }
    });
    expect(r.code, r.stderr).toBe(0);
    const text = seen.join('\n');
    expect(seen.length).toBeGreaterThan(12);
    for (const secret of ['PRIVATE KEY', 'BEGIN CERTIFICATE', '"token"', 'caPem']) expect(text).not.toContain(secret);
    expect(text.match(/h[23] dir 700 file 600 entries 1/g)).toHaveLength(4);
  });
});

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

function readCmdline(pid: number): string {
  return readProc(pid, 'cmdline').replaceAll('\0', ' ').trim();
}
