/**
 * Runs one job: makes the job CA and coordinator, starts the ranks of each
 * host (this host's directly, a remote host's through its agent), hands each
 * rank its bootstrap, forwards their output, and supervises them until every
 * rank has exited.
 *
 * Failure policy (as mpirun's): the first rank to exit non-zero, by a
 * signal, or with code 0 without calling finalize() after init() fails the
 * job, and so does a lost host or a rank's lost session. The launcher tells
 * the surviving ranks (so waits on the dead rank reject instead of hanging),
 * gives them a moment to exit, then stops the rest (SIGTERM, then SIGKILL)
 * on every host, and exits with the failed rank's status (128 + signal number
 * for a signal). The cause is printed last.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { config } from '../src/config.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { DEFAULT_JOB_VALIDITY_MS, generateKeyPair, JobCa } from '../src/security/pki.js';
import type { FatalReport } from '../src/runtime.js';
import { describeOperation, type PendingOperation } from '../src/state.js';
import type { TlsMaterial } from '../src/security/tls.js';
import { interfaceAddresses, isLoopback, type InterfaceFilter } from '../src/transport/addresses.js';
import { agentMessages } from '../src/transport/wire.js';
import type { AgentStart } from './agent-protocol.js';
import { compileProgram, type CompiledProgram } from './compile.js';
import { AgentServer, type AgentConnection } from './agent-server.js';
import { Coordinator } from './coordinator.js';
import { traceNow } from '../src/trace.js';
import { seal } from './munge.js';
import { agentCommand, AgentHost, LocalHost, type AgentLauncher, type Host, type HostEvents, type OutputOptions } from './hosts.js';
import { BETWEEN_HOSTS, pathBetweenRanksOf } from './paths.js';
import { formatMap, isThisHost, type JobMap } from './plan.js';
import { programKind, type ProgramSpec } from './ranks.js';

/** What to run, and where. */
export interface JobPlan {
  /** Hosts and the place of every rank. */
  map: JobMap;
  /** Program path; `.ts`/`.mts`/`.cts`/`.tsx` and `.js`/`.mjs`/`.cjs` run under Node, anything else is executed. */
  program: string;
  args: string[];
  /** Extra environment for every rank (`-x`). */
  env: Record<string, string>;
  /** Prefix each output line with `[rank@host] `. */
  tagOutput: boolean;
  /** Prefix each output line with the time (`--timestamp-output`). */
  timestampOutput?: boolean;
  /** `--output-filename DIR`: each rank's output also goes to `DIR/1/rank.N/{stdout,stderr}`. */
  outputDir?: string | undefined;
  /** `--trace FILE`: the merged trace of the job goes to FILE (`version`: tsmpi's, for the file). */
  trace?: { file: string; version: string } | undefined;
  /** Abort the job after this many seconds. */
  timeoutSec?: number | undefined;
  /** Milliseconds survivors get to exit on their own after a failure before SIGTERM. */
  graceMs?: number;
  /** Compile a TypeScript program once in the launcher (default) rather than in every rank with tsx. */
  bundle?: boolean;
  /** How to start an agent on a remote host (ssh, the launch agent, or srun). */
  launcher: AgentLauncher;
  /** tsmpi's folder on the remote hosts (`--prefix`); default: the same as here. */
  prefix?: string | undefined;
  /** `--if-include` / `--if-exclude`. */
  network: InterfaceFilter;
  /** Print the rank -> host table before the job starts. */
  displayMap: boolean;
  /** `--enable-recovery`: a rank's death is reported and the job goes on; the launcher exits with its status at the end. */
  recovery?: boolean;
  /** Launcher <-> agent heartbeats. */
  heartbeats: { intervalMs: number; timeoutMs: number };
}

/** The most trace bytes the launcher takes from one rank under --trace (about a million spans). */
const TRACE_LIMIT_BYTES = 256 * 1024 * 1024;

/** Exit status of `tsmpirun` when `--timeout` expires. */
export const TIMEOUT_EXIT_CODE = 124;

interface RankState {
  rank: number;
  node: number;
  host: string;
  pid?: number;
  exited: boolean;
  fatal?: FatalReport;
  /** It found another rank dead before it ended: its own failure is a consequence. */
  peerLost?: boolean;
}

function say(line: string): void {
  process.stderr.write(`tsmpirun: ${line}\n`);
}

/**
 * Why the job failed: printed last, once every rank has exited, as mpirun
 * does: the cause (with the failed rank's stack), then one line for each
 * other rank that failed on its own, and how many ranks were stopped.
 */
interface Cause {
  code: number;
  /** `rank 2 (pid 1234, host h1) failed: uncaught exception: Error: bad input` */
  headline: string;
  /** Indented stack frames of the failed rank, when it reported them. */
  stack?: string | undefined;
  /** The rank that caused it, when a rank did. */
  rank?: number | undefined;
  /** Ranks still running when it happened (they are stopped). */
  running: number;
  /**
   * A rank died of a `PeerFailedError`: the consequence of something else,
   * which may show itself a moment later (a host whose link went down is
   * found by its agent's silence, while a rank there may already have broken
   * a connection); a later cause that is not a consequence replaces it.
   */
  consequence: boolean;
  /** The ranks that were running when the job began to fail. */
  affected: Set<number>;
  /** The cause is a rank or a host: the stopped ones are "other" ranks. */
  others: boolean;
}

/** The program as every rank runs it, with the paths that must exist on every host. */
function programFor(plan: JobPlan, compiled: CompiledProgram | undefined): { program: ProgramSpec; required: string[] } {
  const kind = programKind(plan.program);
  const absolute = path.resolve(plan.program);
  if (compiled !== undefined) return { program: { kind: 'bundle', file: compiled.file, args: plan.args }, required: compiled.packages };
  if (kind === 'executable') return { program: { kind, file: existsSync(absolute) ? absolute : plan.program, args: plan.args }, required: existsSync(absolute) ? [absolute] : [] };
  return { program: { kind, file: absolute, args: plan.args }, required: [absolute] };
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The sealed hello of an agent (Slurm) and the TLS connection it will make:
 * a single-use token for it from the agent port, and the port's addresses
 * and the job CA, sealed by munge for this user.
 */
function sealedChannel(ready: Promise<{ server: AgentServer; ca: JobCa }>, socket: string | undefined): { sealed: Promise<string>; connection: Promise<AgentConnection> } {
  const expected = ready.then(({ server, ca }) => ({ ...server.expect(), addresses: server.addresses, ca }));
  const sealed = expected.then(({ token, addresses, ca }) => {
    const hello = agentMessages.hello;
    const bytes = Buffer.from(hello.encode(hello.fromObject({ addresses, caPem: ca.certPem, jobId: ca.jobId, token })).finish());
    return seal(bytes, process.getuid?.() ?? 0, socket);
  });
  return { sealed, connection: expected.then((e) => e.connection) };
}

/** A process's state from /proc, for ranks that do not answer (only those on this host). */
function processState(pid: number | undefined, here: boolean): 'stopped' | 'gone' | 'unknown' {
  if (pid === undefined || !here) return 'unknown';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[tT]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)) ? 'stopped' : 'unknown';
  } catch {
    return 'gone';
  }
}

/** Security and protocol reports, printed once per kind, with a count of the rest at the end. */
class Reported {
  readonly #kinds = new Map<string, { line: string; more: number }>();

  add(kind: string, line: string, count: number): void {
    const seen = this.#kinds.get(kind);
    if (seen !== undefined) {
      seen.more += count;
      return;
    }
    this.#kinds.set(kind, { line, more: count - 1 });
    say(line);
  }

  summary(): void {
    for (const { line, more } of this.#kinds.values()) if (more > 0) say(`${more} more like this: ${line}`);
  }
}

/** Runs the job; resolves to the launcher's exit status. */
export async function runJob(plan: JobPlan): Promise<number> {
  const startedAt = traceNow();
  const graceMs = plan.graceMs ?? 1500;
  const { map } = plan;
  const size = map.ranks.length;
  const multiHost = map.hosts.length > 1 || !isThisHost(map.hosts[0]?.name ?? 'localhost');
  // The CA and the coordinator's key pair are made while the program compiles and the ranks start.
  // Certificates live about as long as the job: its --timeout and an hour, or a week.
  const caPromise = JobCa.create(undefined, plan.timeoutSec !== undefined ? plan.timeoutSec * 1000 + 3600_000 : DEFAULT_JOB_VALIDITY_MS);
  const coordinatorKeys = generateKeyPair();
  caPromise.catch(() => undefined);
  coordinatorKeys.catch(() => undefined);
  let compiled: CompiledProgram | undefined;
  if ((plan.bundle ?? true) && programKind(plan.program) === 'typescript') {
    try {
      compiled = await compileProgram(plan.program);
    } catch (error) {
      say(`cannot compile ${plan.program}: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  }
  // Where the coordinator listens: loopback, and for a job across hosts the interfaces they reach it on.
  const coordinatorAddresses = ['127.0.0.1', ...(multiHost ? interfaceAddresses(plan.network) : [])];
  if (multiHost && coordinatorAddresses.length === 1) {
    say(`this host has no IPv4 interface that --if-include/--if-exclude let through, so no other host could reach the launcher`);
    await compiled?.dispose();
    return 2;
  }
  if (plan.displayMap) {
    const transport = (plan.env.TSMPI_TRANSPORT ?? process.env.TSMPI_TRANSPORT) === 'grpc' ? 'grpc' : 'auto';
    const count = (node: number): number => map.ranks.filter((p) => p.node === node).length;
    const between = map.hosts.length > 1 ? `\n  between hosts: ${BETWEEN_HOSTS}` : '';
    process.stdout.write(`${formatMap(map, (node) => pathBetweenRanksOf(count(node), transport))}${between}\n`);
  }

  // The agent port (Slurm), once the coordinator is up; and what to close at the end.
  const agentServer = deferred<{ server: AgentServer; ca: JobCa }>();
  const closers: Array<() => void> = [];
  const ranks: RankState[] = map.ranks.map((p) => ({ rank: p.rank, node: p.node, host: (map.hosts[p.node] as { name: string }).name, exited: false }));
  const hosts: Host[] = [];
  let tearingDown = false;
  /** The teardown has signalled the ranks: exits from now on are its doing. */
  let signalled = false;
  let coordinator: Coordinator | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const timers: NodeJS.Timeout[] = [];
  const running = (): RankState[] => ranks.filter((r) => !r.exited);

  const signalAll = (signal: NodeJS.Signals): void => {
    for (const host of hosts) host.signal(signal);
  };
  const teardown = (delayMs: number): void => {
    if (tearingDown) return;
    tearingDown = true;
    timers.push(
      setTimeout(() => {
        signalled = true;
        signalAll('SIGTERM');
      }, delayMs),
    );
    timers.push(setTimeout(() => signalAll('SIGKILL'), delayMs + 2000));
  };
  let cause: Cause | undefined;
  /** Reports of unauthenticated connections not yet printed (see the coordinator's `security` event). */
  const heldReports = new Set<string>();
  const reported = new Reported();
  /** Ranks other than the cause's that failed on their own (not as a consequence of another's failure). */
  const alsoFailed: string[] = [];
  /** With --enable-recovery: the exit status of the first rank that died while the job went on. */
  let recoveredCode: number | undefined;
  /** Sets the cause; `from` is the rank that caused it, `gone` the ranks it accounts for (a lost host's). */
  const fail = (code: number, headline: string, from?: RankState, gone: RankState[] = from ? [from] : []): void => {
    const consequence = (from?.fatal?.consequence ?? false) || from?.peerLost === true;
    if (cause !== undefined && !(cause.consequence && !consequence)) return;
    // Every rank that was running when the job began to fail, and is not this cause's, was stopped.
    const stopped = (cause === undefined ? [...running(), ...gone] : ranks.filter((r) => cause?.affected.has(r.rank))).filter((r) => !gone.includes(r));
    cause = { code, headline, stack: from?.fatal?.stack || undefined, rank: from?.rank, running: stopped.length, consequence, affected: new Set([...stopped, ...gone].map((r) => r.rank)), others: gone.length > 0 };
  };
  const describe = (r: RankState): string => `rank ${r.rank} (pid ${r.pid ?? 'none'}, host ${r.host})`;
  const settle = (): void => {
    if (ranks.every((r) => r.exited)) resolveDone();
  };

  const onExit = (r: RankState, code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
    if (r.exited) return;
    r.exited = true;
    let failure: { code: number; what: string } | undefined;
    if (spawnError) failure = { code: 127, what: `could not start: ${spawnError}` };
    else if (signal) failure = { code: 128 + (osConstants.signals[signal] ?? 0), what: `was killed by signal ${signal}` };
    else if (code !== 0) failure = { code: code ?? 1, what: r.fatal ? `failed: ${r.fatal.message}` : `exited with code ${code}` };
    else if (coordinator?.registered.has(r.rank) && !coordinator.finalized.has(r.rank) && !tearingDown) {
      failure = { code: 1, what: 'exited with code 0 without calling finalize()' };
    }
    if (failure && plan.recovery && !tearingDown) {
      // The job goes on: the others learn of it (their operations with it fail), the launcher exits with its status at the end.
      say(`${describe(r)} ${failure.what}; the job goes on (--enable-recovery)`);
      if (r.fatal?.stack) process.stderr.write(`${r.fatal.stack}\n`);
      recoveredCode ??= failure.code;
      coordinator?.peerFailed(r.rank, failure.what);
      settle();
      return;
    }
    // During the grace period a rank's own failure still replaces a cause that was only a
    // consequence (a peer's PeerFailedError can be reported before the exit that caused it).
    if (failure && (!tearingDown || (!signalled && cause?.consequence === true && r.fatal?.consequence !== true && r.peerLost !== true))) {
      fail(failure.code, `${describe(r)} ${failure.what}`, r);
      coordinator?.peerFailed(r.rank, failure.what);
      teardown(graceMs);
    } else if (failure && r.fatal && !r.fatal.consequence && r.rank !== cause?.rank) {
      alsoFailed.push(`rank ${r.rank} also ${failure.what}`);
    }
    settle();
  };

  const onHostLost = (node: number, reason: string): void => {
    const lost = running().filter((r) => r.node === node);
    const name = map.hosts[node]?.name ?? `node ${node}`;
    if (lost.length === 0) return;
    for (const r of lost) r.exited = true;
    // Even during a teardown: a lost host explains the failures it caused.
    if (!tearingDown || cause?.consequence) {
      const what = `host ${name}: ${reason}`;
      fail(1, `${what}; ${lost.length === 1 ? `its rank ${lost[0]?.rank} is` : `its ranks ${lost.map((r) => r.rank).join(', ')} are`} gone`, undefined, lost);
      for (const r of lost) coordinator?.peerFailed(r.rank, what);
      teardown(graceMs);
    }
    settle();
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    fail(128 + (osConstants.signals[signal] ?? 0), `received ${signal}`);
    teardown(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that goes away (`tsmpirun ... | head`) is not an error of the job.
  const onOutputError = (): void => undefined;
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  const output: OutputOptions = { tagOutput: plan.tagOutput, timestampOutput: plan.timestampOutput ?? false, outputDir: plan.outputDir, stdout: process.stdout, stderr: process.stderr };

  const { program, required } = programFor(plan, compiled);
  // A compiled program travels to each agent in its start message, so it need not be on a shared file system.
  const bundleBytes = compiled !== undefined && !map.hosts.every((h) => isThisHost(h.name)) ? await readFile(compiled.file) : undefined;
  const remoteRoot = plan.prefix ?? PACKAGE_ROOT;
  // Settings reach remote ranks as they reach local ones: every TSMPI_* variable of this environment, and -x.
  const forwarded = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('TSMPI_') && e[1] !== undefined));
  for (const [node, spec] of map.hosts.entries()) {
    const places = map.ranks.filter((p) => p.node === node).map((p) => ({ ...p, size }));
    const events: HostEvents = {
      started: (rank, pid) => {
        (ranks[rank] as RankState).pid = pid;
      },
      exit: (rank, code, signal, error) => onExit(ranks[rank] as RankState, code, signal, error),
      fatal: (rank, report) => {
        (ranks[rank] as RankState).fatal = report;
      },
      peerLost: (rank) => {
        (ranks[rank] as RankState).peerLost = true;
      },
      lost: (reason) => onHostLost(node, reason),
    };
    if (isThisHost(spec.name)) {
      hosts.push(new LocalHost(spec.name, node, program, places, { ...process.env, ...plan.env }, output, events));
      continue;
    }
    const start: AgentStart = {
      host: spec.name,
      node,
      size,
      ranks: places.map(({ rank, localRank, localSize }) => ({ rank, localRank, localSize })),
      program: { kind: program.kind, file: program.file, args: program.args, bundle: bundleBytes ?? Buffer.alloc(0), bundleName: path.basename(program.file) },
      env: { ...forwarded, ...plan.env },
      requiredPaths: [process.execPath, path.join(remoteRoot, 'dist', 'runtime', 'preload.js'), ...required],
      heartbeatMs: plan.heartbeats.intervalMs,
      silenceMs: plan.heartbeats.timeoutMs,
    };
    const { seal } = plan.launcher(spec.name);
    const flags = seal ? ['--sealed', ...(seal.socket ? [`--munge-socket=${seal.socket}`] : [])] : [];
    const secure = seal === undefined ? undefined : sealedChannel(agentServer.promise, seal.socket);
    hosts.push(new AgentHost(agentCommand(plan.launcher, spec.name, remoteRoot, flags), start, plan.heartbeats, output, events, secure));
  }

  // Rank 0's standard input, wherever rank 0 runs.
  const rank0 = hosts.find((h) => h.node === map.ranks[0]?.node);
  const onStdin = (data: Buffer): void => rank0?.stdin(data);
  const onStdinEnd = (): void => rank0?.stdin(null);
  process.stdin.on('data', onStdin);
  process.stdin.on('end', onStdinEnd);
  process.stdin.on('error', () => undefined);

  /** Prints what every running rank waits for; resolves to the ranks that are stopped (SIGSTOP). */
  const report = async (): Promise<RankState[]> => {
    const states = (await coordinator?.reportState(2000)) ?? new Map<number, PendingOperation[]>();
    const stopped: RankState[] = [];
    const lines = running().map((r) => {
      const pending = states.get(r.rank);
      const who = `  rank ${r.rank} (pid ${r.pid ?? 'none'}, host ${r.host}): `;
      if (pending !== undefined) return pending.length === 0 ? `${who}nothing pending` : pending.map((op, i) => `${i === 0 ? who : ' '.repeat(who.length)}${describeOperation(op)}`).join('\n');
      const state = processState(r.pid, isThisHost(r.host));
      if (state === 'stopped') stopped.push(r);
      return `${who}no answer: ${state === 'stopped' ? 'its process is stopped (SIGSTOP)' : state === 'gone' ? 'its process is gone' : 'it is stopped, or computing without yielding to the event loop'}`;
    });
    say(`what each rank waits for:\n${lines.join('\n')}`);
    return stopped;
  };
  if (plan.timeoutSec !== undefined) {
    timers.push(
      setTimeout(() => {
        void report().then((stopped) => {
          const still = `ranks still running: ${running().map((r) => `${r.rank} (pid ${r.pid ?? 'none'}${multiHost ? `, host ${r.host}` : ''})`).join(', ')}`;
          const frozen = stopped.map(describe).join(', ');
          fail(TIMEOUT_EXIT_CODE, `timeout after ${plan.timeoutSec} s; ${stopped.length > 0 ? `${frozen} ${stopped.length === 1 ? 'is' : 'are'} stopped, and the others wait; ` : ''}${still}`);
          teardown(0);
        });
      }, plan.timeoutSec * 1000),
    );
  }
  // SIGUSR1: the same report, and the job goes on.
  const onUsr1 = (): void => void report();
  process.on('SIGUSR1', onUsr1);

  try {
    const ca = await caPromise;
    coordinator = new Coordinator(ca, size, {
      abort: (rank, code, reason) => {
        fail(code, `rank ${rank} called abort(${code}): ${reason}`);
        coordinator?.peerFailed(rank, `called abort(${code})`);
        teardown(0);
      },
      security: (rank, peer, reason, unauthenticated, count) => {
        const line = `security: ${rank === undefined ? 'coordinator' : `rank ${rank}`} refused ${peer}: ${reason}`;
        const kind = `${rank} ${reason}`;
        // A rank that dies during its handshake leaves an unauthenticated connection behind:
        // such a report is printed only if the job is not failing a moment later.
        if (!unauthenticated) return reported.add(kind, line, count);
        heldReports.add(line);
        timers.push(setTimeout(() => heldReports.delete(line) && cause === undefined && reported.add(kind, line, count), 1000));
      },
      protocol: (rank, peer, reason, count) => reported.add(`${rank} ${peer} ${reason}`, `rank ${rank} refused ${peer}: ${reason}`, count),
      lost: (rank, reason) => {
        // A rank whose process ends loses its session too: give its exit a moment to be reported first.
        timers.push(
          setTimeout(() => {
            const r = ranks[rank] as RankState;
            if (r.exited || tearingDown) return;
            fail(1, `${describe(r)} lost its session with the launcher: ${reason}`, r);
            coordinator?.peerFailed(rank, `lost its session with the launcher: ${reason}`);
            teardown(graceMs);
          }, 1000),
        );
      },
    }, plan.trace === undefined ? undefined : TRACE_LIMIT_BYTES);
    await coordinator.start(coordinatorAddresses, coordinatorKeys);
    const c = coordinator;
    if (hosts.some((h) => h instanceof AgentHost && h.sealed)) {
      const server = new AgentServer(c.tls as TlsMaterial, (peer, reason) => say(`security: the launcher refused ${peer}: ${reason}`));
      await server.listen(coordinatorAddresses.filter((ip) => !ip.startsWith('127.')));
      agentServer.resolve({ server, ca });
      closers.push(() => server.close());
    }
    for (const host of hosts) {
      const local = host instanceof LocalHost;
      const pick = (list: string[]): string[] => list.filter((a) => isLoopback(a) === local);
      host.bootstrap({
        jobId: ca.jobId,
        caPem: ca.certPem,
        enroll: pick(c.enrollAddresses),
        coordinator: pick(c.sessionAddresses),
        tokens: new Map(map.ranks.filter((p) => p.node === host.node).map((p) => [p.rank, c.tokens.create(p.rank, config.initTimeoutMs)])),
        network: { multiHost, include: [...plan.network.include], exclude: [...plan.network.exclude] },
      });
    }
  } catch (error) {
    fail(1, `cannot set up the job: ${(error as Error).message}`);
    teardown(0);
  }

  await done;
  for (const host of hosts) host.close();
  await Promise.all(hosts.map((h) => h.done));
  if (cause === undefined) for (const line of heldReports) say(line);
  reported.summary();
  let traceFailed = false;
  if (plan.trace !== undefined && coordinator !== undefined) {
    const job = { version: plan.trace.version, program: plan.program, hosts: map.hosts.map((h) => h.name), ranks: map.ranks, startedAt, assembledAt: coordinator.assembledAt, endedAt: traceNow() };
    try {
      const { writeTrace } = await import('./trace.js');
      const merged = await writeTrace(plan.trace.file, job, coordinator.traces);
      const spans = merged.traceEvents.filter((e) => e.ph === 'X').length;
      say(`trace of ${size} rank${size === 1 ? '' : 's'} (${spans} spans) written to ${plan.trace.file}: open it in https://ui.perfetto.dev or chrome://tracing`);
      for (const problem of merged.otherData.problems) say(`trace: ${problem}`);
    } catch (error) {
      say(`cannot write the trace to ${plan.trace.file}: ${(error as Error).message}`);
      traceFailed = true;
    }
  }
  if (cause !== undefined) {
    say(cause.headline);
    if (cause.stack) process.stderr.write(`${cause.stack}\n`);
    for (const line of alsoFailed) say(line);
    if (cause.running > 0) {
      // What the stopped ranks were waiting in, from their PeerFailedErrors.
      const waits = new Map<string, number>();
      for (const r of ranks) if (r.rank !== cause.rank && cause.affected.has(r.rank) && r.fatal?.op) waits.set(r.fatal.op, (waits.get(r.fatal.op) ?? 0) + 1);
      const detail = [...waits].map(([op, n]) => `${n} in ${op}`).join(', ');
      say(`${cause.running}${cause.others ? ' other' : ''} rank${cause.running === 1 ? '' : 's'} stopped${detail ? ` (${detail})` : ''}`);
    }
  }
  for (const t of timers) clearTimeout(t);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGUSR1', onUsr1);
  process.stdout.off('error', onOutputError);
  process.stderr.off('error', onOutputError);
  process.stdin.off('data', onStdin);
  process.stdin.off('end', onStdinEnd);
  process.stdin.pause();
  coordinator?.close();
  for (const close of closers) close();
  await compiled?.dispose();
  return cause?.code ?? recoveredCode ?? (traceFailed ? 1 : 0);
}
