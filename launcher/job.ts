/**
 * Runs one job on this host: makes the job CA and coordinator, starts the
 * ranks, hands each its bootstrap over an inherited pipe, forwards their
 * output, and supervises them until every rank has exited.
 *
 * Failure policy (as mpirun's): the first rank to exit non-zero, by a
 * signal, or with code 0 without calling finalize() after init() fails the
 * job. The launcher prints one line naming it, tells the surviving ranks (so
 * waits on the dead rank reject instead of hanging), gives them a moment to
 * exit, then stops the rest (SIGTERM, then SIGKILL) and exits with the
 * failed rank's status (128 + signal number for a signal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os, { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { generateKeyPair, JobCa } from '../src/security/pki.js';
import type { Bootstrap, FatalReport } from '../src/runtime.js';
import { compileProgram, type CompiledProgram } from './compile.js';
import { Coordinator } from './coordinator.js';
import { forwardLines } from './output.js';

/** What to run. */
export interface JobPlan {
  /** Number of ranks. */
  np: number;
  /** Program path; `.ts`/`.mts`/`.cts`/`.tsx` and `.js`/`.mjs`/`.cjs` run under Node, anything else is executed. */
  program: string;
  args: string[];
  /** Extra environment for every rank (`-x`). */
  env: Record<string, string>;
  /** Prefix each output line with `[rank] `. */
  tagOutput: boolean;
  /** Abort the job after this many seconds. */
  timeoutSec?: number | undefined;
  /** Interface ranks listen on. */
  bindHost: string;
  /** Milliseconds survivors get to exit on their own after a failure before SIGTERM. */
  graceMs?: number;
  /** Compile a TypeScript program once in the launcher (default) rather than in every rank with tsx. */
  bundle?: boolean;
}

/** Exit status of `tsmpirun` when `--timeout` expires. */
export const TIMEOUT_EXIT_CODE = 124;

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/** tsmpi's preload (see src/preload.ts), from this installation. */
const PRELOAD = new URL('../src/preload.js', import.meta.url).href;

/**
 * The command line that starts `program`. Node programs get tsmpi's preload
 * first (it overlaps key generation with the program's loading, and keeps
 * tsmpi's modules out of a TypeScript loader's hooks). A TypeScript program
 * runs as the bundle compiled for the job (launcher/compile.ts) or, without
 * one, under tsx.
 */
function commandFor(program: string, args: string[], compiled: CompiledProgram | undefined): { command: string; args: string[] } {
  const ext = path.extname(program);
  const node = ['--tls-min-v1.3', '--import', PRELOAD];
  if (compiled !== undefined) return { command: process.execPath, args: [...node, '--enable-source-maps', compiled.file, ...args] };
  if (TS_EXTENSIONS.has(ext)) return { command: process.execPath, args: [...node, '--import', import.meta.resolve('tsx'), program, ...args] };
  if (JS_EXTENSIONS.has(ext)) return { command: process.execPath, args: [...node, program, ...args] };
  return { command: program, args };
}

interface RankProcess {
  rank: number;
  child: ChildProcess;
  exited: boolean;
  /** What the rank reported before dying of an uncaught error. */
  fatal?: FatalReport;
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
}

/** Runs the job; resolves to the launcher's exit status. */
export async function runJob(plan: JobPlan): Promise<number> {
  const graceMs = plan.graceMs ?? 1500;
  // The CA and the coordinator's key pair are made while the program compiles and the ranks start.
  const caPromise = JobCa.create();
  const coordinatorKeys = generateKeyPair();
  let compiled: CompiledProgram | undefined;
  if ((plan.bundle ?? true) && TS_EXTENSIONS.has(path.extname(plan.program))) {
    try {
      compiled = await compileProgram(plan.program);
    } catch (error) {
      caPromise.catch(() => undefined);
      coordinatorKeys.catch(() => undefined);
      say(`cannot compile ${plan.program}: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  }
  const { command, args } = commandFor(plan.program, plan.args, compiled);
  coordinatorKeys.catch(() => undefined);
  const ranks: RankProcess[] = [];
  const outputs: Promise<void>[] = [];
  let tearingDown = false;
  let coordinator: Coordinator | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const timers: NodeJS.Timeout[] = [];

  const signalAll = (signal: NodeJS.Signals): void => {
    for (const r of ranks) {
      if (r.exited || r.child.pid === undefined) continue;
      try {
        process.kill(-r.child.pid, signal); // the rank's process group
      } catch {
        r.child.kill(signal);
      }
    }
  };
  const teardown = (delayMs: number): void => {
    if (tearingDown) return;
    tearingDown = true;
    timers.push(setTimeout(() => signalAll('SIGTERM'), delayMs));
    timers.push(setTimeout(() => signalAll('SIGKILL'), delayMs + 2000));
  };
  let cause: Cause | undefined;
  /** Reports of unauthenticated connections not yet printed (see the coordinator's `security` event). */
  const heldReports = new Set<string>();
  /** Ranks other than the cause's that failed on their own (not as a consequence of another's failure). */
  const alsoFailed: string[] = [];
  const fail = (code: number, headline: string, from?: RankProcess): void => {
    if (cause !== undefined) return;
    const running = ranks.filter((r) => !r.exited && r !== from).length;
    cause = { code, headline, stack: from?.fatal?.stack || undefined, rank: from?.rank, running };
  };
  const hostOf = (r: RankProcess): string => coordinator?.registered.get(r.rank)?.host ?? os.hostname();

  const onExit = (r: RankProcess, code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
    if (r.exited) return;
    r.exited = true;
    let failure: { code: number; what: string } | undefined;
    if (spawnError) failure = { code: 127, what: `could not start: ${spawnError.message}` };
    else if (signal) failure = { code: 128 + (osConstants.signals[signal] ?? 0), what: `was killed by signal ${signal}` };
    else if (code !== 0) failure = { code: code ?? 1, what: r.fatal ? `failed: ${r.fatal.message}` : `exited with code ${code}` };
    else if (coordinator?.registered.has(r.rank) && !coordinator.finalized.has(r.rank) && !tearingDown) {
      failure = { code: 1, what: 'exited with code 0 without calling finalize()' };
    }
    if (failure && !tearingDown) {
      fail(failure.code, `rank ${r.rank} (pid ${r.child.pid ?? 'none'}, host ${hostOf(r)}) ${failure.what}`, r);
      coordinator?.peerFailed(r.rank, failure.what);
      teardown(graceMs);
    } else if (failure && r.fatal && !r.fatal.consequence && r.rank !== cause?.rank) {
      alsoFailed.push(`rank ${r.rank} also ${failure.what}`);
    }
    if (ranks.every((x) => x.exited)) resolveDone();
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

  for (let rank = 0; rank < plan.np; rank++) {
    const child = spawn(command, args, {
      stdio: [rank === 0 ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
      env: {
        ...process.env,
        ...plan.env,
        TSMPI_BOOTSTRAP_FD: '3',
        TSMPI_COMM_WORLD_RANK: String(rank),
        TSMPI_COMM_WORLD_SIZE: String(plan.np),
        TSMPI_COMM_WORLD_LOCAL_RANK: String(rank),
      },
    });
    const r: RankProcess = { rank, child, exited: false };
    ranks.push(r);
    const prefix = plan.tagOutput ? `[${rank}] ` : '';
    if (child.stdout) outputs.push(forwardLines(child.stdout, process.stdout, prefix));
    if (child.stderr) outputs.push(forwardLines(child.stderr, process.stderr, prefix));
    if (rank === 0 && child.stdin) {
      child.stdin.on('error', () => undefined);
      process.stdin.on('error', () => undefined);
      process.stdin.pipe(child.stdin);
    }
    const pipe = child.stdio[3] as Duplex | null;
    pipe?.on('error', () => undefined);
    pipe?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const report = JSON.parse(line) as FatalReport;
          if (report.type === 'fatal') r.fatal = report;
        } catch {
          // not a report
        }
      }
    });
    child.on('error', (error) => onExit(r, null, null, error));
    child.on('exit', (code, signal) => onExit(r, code, signal));
  }

  if (plan.timeoutSec !== undefined) {
    timers.push(
      setTimeout(() => {
        const running = ranks.filter((r) => !r.exited);
        fail(TIMEOUT_EXIT_CODE, `timeout after ${plan.timeoutSec} s; ranks still running: ${running.map((r) => `${r.rank} (pid ${r.child.pid})`).join(', ')}`);
        teardown(0);
      }, plan.timeoutSec * 1000),
    );
  }

  try {
    const ca = await caPromise;
    coordinator = new Coordinator(ca, plan.np, {
      abort: (rank, code, reason) => {
        fail(code, `rank ${rank} called abort(${code}): ${reason}`);
        coordinator?.peerFailed(rank, `called abort(${code})`);
        teardown(0);
      },
      security: (rank, peer, reason, unauthenticated) => {
        const line = `security: ${rank === undefined ? 'coordinator' : `rank ${rank}`} refused ${peer}: ${reason}`;
        // A rank that dies during its handshake leaves an unauthenticated connection behind:
        // such a report is printed only if the job is not failing a moment later.
        if (!unauthenticated) return say(line);
        heldReports.add(line);
        timers.push(setTimeout(() => heldReports.delete(line) && cause === undefined && say(line), 1000));
      },
    });
    await coordinator.start(plan.bindHost, coordinatorKeys);
    for (const r of ranks) {
      const bootstrap: Bootstrap = {
        jobId: ca.jobId,
        rank: r.rank,
        size: plan.np,
        enroll: coordinator.enrollAddress,
        coordinator: coordinator.sessionAddress,
        caPem: ca.certPem,
        token: coordinator.tokens.create(r.rank).toString('base64'),
        bindHost: plan.bindHost,
      };
      const pipe = r.child.stdio[3] as Duplex | null;
      if (!r.exited && pipe?.writable) pipe.write(`${JSON.stringify(bootstrap)}\n`);
    }
  } catch (error) {
    fail(1, `cannot set up the job: ${(error as Error).message}`);
    teardown(0);
  }

  await done;
  await Promise.all(outputs);
  if (cause === undefined) for (const line of heldReports) say(line);
  if (cause !== undefined) {
    say(cause.headline);
    if (cause.stack) process.stderr.write(`${cause.stack}\n`);
    for (const line of alsoFailed) say(line);
    if (cause.running > 0) say(`${cause.running} other rank${cause.running === 1 ? '' : 's'} stopped`);
  }
  for (const t of timers) clearTimeout(t);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.stdout.off('error', onOutputError);
  process.stderr.off('error', onOutputError);
  process.stdin.unpipe();
  coordinator?.close();
  await compiled?.dispose();
  return cause?.code ?? 0;
}
