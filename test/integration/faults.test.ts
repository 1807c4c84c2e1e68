// The fault matrix on one host, with real processes through tsmpirun: one rank
// killed (kill -9), stopped (SIGSTOP) or exiting, at each phase of a job; the
// launcher killed; a receive that can never match; mismatched collectives; a
// busy rank. Each ends with a non-zero exit within its bound (or, for the busy
// rank, completes), says which rank, host and operation, and leaves no process.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { linesWith, tsmpirun, type RunResult } from '../helpers/tsmpirun.js';
import { alive, eventually } from '../helpers/processes.js';



interface Outcome extends RunResult {
  /** ms from the fault to the launcher's exit. */
  afterMs: number;
  pids: number[];
}

/** Runs `args`; once `size` ranks printed `ready <rank> <pid>`, calls `act` with their pids by rank. */
async function withFault(args: string[], size: number, act: (pids: number[], launcher: number) => void): Promise<Outcome> {
  let acted = 0;
  let launcher = -1;
  let pids: number[] = [];
  const r = await tsmpirun(args, {
    limitMs: 60_000,
    onSpawn: (pid) => (launcher = pid),
    onStdout: (text) => {
      const ready = linesWith(text, 'ready ').map((l) => l.split(' ').map(Number) as [number, number]);
      if (acted === 0 && ready.length === size) {
        pids = ready.sort((a, b) => a[0] - b[0]).map(([, pid]) => pid);
        acted = Date.now();
        act(pids, launcher);
      }
    },
  });
  return { ...r, afterMs: Date.now() - acted, pids };
}

const PHASES = ['init', 'recv', 'barrier', 'allreduce', 'finalize'] as const;

describe('the fault matrix', () => {
  describe.each(PHASES)('in %s', (phase) => {
    it('ends the job within 10 s when a rank is killed (kill -9), naming it, and leaves no process', async () => {
      const r = await withFault(['-n', '4', 'test/programs/faults.ts', phase, '1'], 4, (pids) => process.kill(pids[1]!, 'SIGKILL'));
      expect(r.code).toBe(137);
      expect(r.stderr).toMatch(/tsmpirun: rank 1 \(pid \d+, host \S+\) was killed by signal SIGKILL\n/);
      expect(r.afterMs).toBeLessThan(10_000);
      expect(await eventually(() => r.pids.every((pid) => !alive(pid)), 5000)).toBe(true);
    });

    it('ends the job when a rank exits with status 3, naming it', async () => {
      const r = await withFault(['-n', '4', 'test/programs/faults.ts', phase, '1', 'exit'], 4, () => undefined);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/tsmpirun: rank 1 \(pid \d+, host \S+\) exited with code 3\n/);
      expect(await eventually(() => r.pids.every((pid) => !alive(pid)), 5000)).toBe(true);
    });
  });

  it.each(['recv', 'barrier', 'allreduce'] as const)(
    'finds a stopped rank (SIGSTOP) in %s by --timeout, names it as the cause, reports what the others wait for, and leaves no process',
    async (phase) => {
      const r = await withFault(['-n', '4', '--timeout', '8', 'test/programs/faults.ts', phase, '2'], 4, (pids) => process.kill(pids[2]!, 'SIGSTOP'));
      expect(r.code).toBe(124);
      expect(r.stderr).toMatch(/ {2}rank 2 \(pid \d+, host \S+\): no answer: its process is stopped \(SIGSTOP\)/);
      expect(r.stderr).toMatch(/tsmpirun: timeout after 8 s; rank 2 \(pid \d+, host \S+\) is stopped, and the others wait/);
      expect(r.stderr).toMatch(phase === 'recv' ? /rank 0 \(pid \d+, host \S+\): recv from rank 2, any tag, on world/ : new RegExp(`${phase}\\(`));
      expect(await eventually(() => r.pids.every((pid) => !alive(pid)), 5000)).toBe(true);
    },
  );

  it.each(['init', 'allreduce'] as const)('leaves no rank alive when the launcher is killed (kill -9) in %s', async (phase) => {
    const r = await withFault(['-n', '4', 'test/programs/faults.ts', phase, '1'], 4, (_, launcher) => process.kill(launcher, 'SIGKILL'));
    expect(r.signal).toBe('SIGKILL');
    expect(await eventually(() => r.pids.every((pid) => !alive(pid)), 5000)).toBe(true);
  });

  it('reports, on --timeout, a receive that can never match: the operation, peer, tag and communicator', async () => {
    const r = await tsmpirun(['-n', '2', '--timeout', '5', 'test/programs/deadlock.ts'], { limitMs: 30_000 });
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/tsmpirun: what each rank waits for:\n {2}rank 0 \(pid \d+, host \S+\): recv from rank 1, tag 7, on world, for \d+\.\d s\n {2}rank 1 \(pid \d+, host \S+\): recv from rank 0, tag 7, on world, for \d+\.\d s\n/);
  });

  it('fails mismatched collectives on both ranks with CollectiveMismatchError naming both calls', async () => {
    const r = await tsmpirun(['-n', '2', 'test/programs/mismatch.ts'], { limitMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed: .*CollectiveMismatchError: .*bcast\(.*root 0.*\).*bcast\(.*root 1.*\)|failed: .*CollectiveMismatchError: .*bcast\(.*root 1.*\).*bcast\(.*root 0.*\)/);
  });

  it("prints a flood of refused connections at a rank's port once, with a count, and the job completes", async () => {
    let churned = false;
    let flood: Promise<void> | undefined;
    const r = await tsmpirun(['-n', '2', 'test/programs/placement.ts', '4'], {
      limitMs: 60_000,
      env: { ...process.env, TSMPI_DEBUG: 'wireup' },
      onStderr: (text) => {
        const port = / rank 0 of 2 on \S+ ready at 127\.0\.0\.1:(\d+)/.exec(text)?.[1];
        if (port === undefined || churned) return;
        churned = true;
        // 300 connections opened and closed at once, as a port scanner would.
        flood = Promise.all(
          Array.from({ length: 300 }, () => new Promise<void>((resolve) => net.connect({ host: '127.0.0.1', port: Number(port) }, function (this: net.Socket) { this.destroy(); resolve(); }).on('error', () => resolve()))),
        ).then(() => undefined);
      },
    });
    await flood;
    expect(r.code).toBe(0);
    // One line per kind of refusal (closed before it authenticated; closed at once, over the cap), and a count of the rest.
    const lines = r.stderr.split('\n').filter((l) => /^tsmpirun: security: rank 0 refused 127\.0\.0\.1:\d+: /.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(2);
    const more = [...r.stderr.matchAll(/^tsmpirun: (\d+) more like this: security: rank 0 refused/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(lines.length + more).toBeGreaterThan(250);
  });

  it('finishes without waiting for a connection that never starts TLS (idle ones are closed at finalize)', async () => {
    let idle: net.Socket | undefined;
    const closed = new Promise<number>((resolve) => {
      void tsmpirun(['-n', '2', 'test/programs/placement.ts', '2'], {
        limitMs: 60_000,
        env: { ...process.env, TSMPI_DEBUG: 'wireup' },
        onStderr: (text) => {
          const port = / rank 0 of 2 on \S+ ready at 127\.0\.0\.1:(\d+)/.exec(text)?.[1];
          if (port === undefined || idle !== undefined) return;
          const started = Date.now();
          idle = net.connect({ host: '127.0.0.1', port: Number(port) });
          idle.on('error', () => undefined);
          idle.once('close', () => resolve(Date.now() - started));
        },
      }).then((r) => expect(r.code).toBe(0));
    });
    // The job ends after its 2 s wait; the rank closes the idle connection as it finalizes, long before the 10 s deadline.
    expect(await closed).toBeLessThan(9000);
  });

  it('keeps a rank that computes for 120 s without yielding to the event loop: busy is not dead', async () => {
    const r = await tsmpirun(['-n', '4', 'test/programs/busy.ts', '120'], { limitMs: 240_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesWith(r.stdout, 'rank ').filter((l) => l.endsWith('sum 6'))).toHaveLength(4);
  }, 250_000);
});
