#!/usr/bin/env node
/**
 * The host agent: one per remote host of a job, started by the launcher
 * through ssh (or srun), `node <tsmpi>/dist/bin/agent.js`. It runs no
 * user code, so it always answers at once:
 *
 * - it reads `AgentStart` on stdin, checks that the paths the job needs exist
 *   on this host, and starts this host's ranks, as the launcher does on its
 *   own host (process group, bootstrap pipe on fd 3);
 * - on `AgentBootstrap` it hands each rank its bootstrap (the CA certificate
 *   and the rank's single-use token arrive only over this channel, inside
 *   ssh, and go only to the rank's pipe: never argv, environment or files);
 * - it forwards the ranks' output, fatal reports and exits, and heartbeats;
 * - with `--doctor`, it only prints what `tsmpirun doctor` asks of a host
 *   (doctor-host.ts) and exits;
 * - it stops its ranks (SIGTERM, then SIGKILL) and exits when the channel
 *   closes, when the launcher is silent for `silenceMs`, or when it is
 *   signalled, so that no process outlives the job on this host.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentMessages } from '../src/transport/wire.js';
import tls from 'node:tls';
import { parseIdentity, type Identity } from '../src/security/pki.js';
import { hostOf } from '../src/transport/addresses.js';
import { makeShmDir, removeShm } from '../src/transport/shm-cleanup.js';
import type { AgentBootstrap, AgentHello, AgentInput, AgentOutput, AgentStart } from './agent-protocol.js';
import { STDERR, STDOUT } from './agent-protocol.js';
import { MessageChannel } from './channel.js';
import { doctorArguments, hostReport } from './doctor-host.js';
import { unseal } from './munge.js';
import { RankProcess, type ProgramSpec } from './ranks.js';

const ranks = new Map<number, RankProcess>();
let start: AgentStart | undefined;
let dir: string | undefined;
let lastHeard = Date.now();
let stopping = false;
/** The job's shared memory on this host, removed at exit. */
let shm: { jobId: string; dir: string | undefined } | undefined;
let exitedCount = 0;

const TYPES = { in: agentMessages.input, out: agentMessages.output };
/** Under Slurm: stdin carries only a sealed hello, and the channel is a TLS connection to the launcher. */
const sealed = process.argv.includes('--sealed');
const mungeSocket = process.argv.find((a) => a.startsWith('--munge-socket='))?.slice('--munge-socket='.length);

function onMessage(message: AgentInput): void {
  lastHeard = Date.now();
  try {
    if (message.start) begin(message.start);
    else if (message.bootstrap) hand(message.bootstrap);
    else if (message.signal) for (const r of ranks.values()) r.signal(message.signal.signal as NodeJS.Signals);
    else if (message.stdin) {
      const stdin = ranks.get(0)?.child.stdin;
      if (message.stdin.data.length > 0) stdin?.write(message.stdin.data);
      if (message.stdin.end) stdin?.end();
    }
  } catch (error) {
    fail(`agent on ${os.hostname()}: ${(error as Error).message}`);
  }
}

// `tsmpirun doctor` asks this host what a job would find here, and nothing else.
if (process.argv.includes('--doctor')) {
  const { network, needs } = doctorArguments(process.argv);
  writeSync(1, `${JSON.stringify(hostReport(network, needs))}\n`);
  process.exit(0);
}

const onEnd = (why?: string): void => stop(why === undefined ? 'the launcher closed its channel' : `the channel to the launcher broke: ${why}`);
// stdin is the channel (ssh), or the sealed hello and then only a lifeline (srun).
const stdio = new MessageChannel<AgentInput, AgentOutput>(
  process.stdin,
  process.stdout,
  TYPES,
  (message) => {
    if (!sealed) return onMessage(message);
    if (message.sealed && channel === undefined) connect(message.sealed.credential).catch((error: unknown) => stop(`cannot reach the launcher: ${(error as Error).message}`));
  },
  onEnd,
);
let channel: MessageChannel<AgentInput, AgentOutput> | undefined = sealed ? undefined : stdio;
/** The TLS connection to the launcher (sealed agents). */
let tlsSocket: tls.TLSSocket | undefined;

/** Sends to the launcher; before a sealed agent has its connection, there is none to send on. */
function send(message: AgentOutput): boolean {
  return channel?.send(message) ?? true;
}

/** Opens the sealed hello (munge) and connects to the launcher over TLS 1.3, checking its certificate against the job CA. */
async function connect(credential: string): Promise<void> {
  const bytes = await unseal(credential, process.getuid?.() ?? 0, mungeSocket);
  const hello = agentMessages.hello.toObject(agentMessages.hello.decode(bytes), { bytes: Buffer, defaults: true }) as AgentHello;
  const expect = (identity: Identity | undefined): string | undefined =>
    identity?.role === 'coordinator' && identity.jobId === hello.jobId ? undefined : `the launcher's certificate is not of job ${hello.jobId}`;
  const errors: string[] = [];
  for (const address of hello.addresses) {
    try {
      const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host: hostOf(address), port: Number(address.slice(address.lastIndexOf(':') + 1)), ca: hello.caPem, minVersion: 'TLSv1.3', servername: 'tsmpi', timeout: 10_000, checkServerIdentity: (_host, cert) => {
          const why = expect(parseIdentity(cert.subjectaltname));
          return why === undefined ? undefined : new Error(why);
        } }, () => resolve(s));
        s.once('error', reject);
        s.once('timeout', () => s.destroy(new Error('no answer within 10 s')));
      });
      socket.setTimeout(0);
      tlsSocket = socket;
      channel = new MessageChannel<AgentInput, AgentOutput>(socket, socket, TYPES, onMessage, onEnd);
      send({ auth: { token: hello.token } });
      return;
    } catch (error) {
      errors.push(`${address}: ${(error as Error).message}`);
    }
  }
  throw new Error(errors.join('; '));
}

function cleanup(): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  if (shm !== undefined) removeShm(shm.jobId, shm.dir);
  shm = undefined;
}

function fail(reason: string): void {
  send({ failed: { reason } });
  stop(reason);
}

/** Stops every rank of this host (SIGTERM, then SIGKILL) and exits. */
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  const live = [...ranks.values()].filter((r) => !r.exited).length;
  process.stderr.write(`tsmpi agent on ${os.hostname()}: ${why}${live > 0 ? `; stopping its ${live} ranks` : ''}\n`);
  for (const r of ranks.values()) r.signal('SIGTERM');
  const kill = setTimeout(() => {
    for (const r of ranks.values()) r.signal('SIGKILL');
    finish(1);
  }, 2000);
  kill.unref();
  if ([...ranks.values()].every((r) => r.exited)) finish(1);
}

let finishing = false;

function finish(code: number): void {
  if (finishing) return;
  finishing = true;
  cleanup();
  const exit = (): never => process.exit(code);
  setTimeout(exit, 3000).unref();
  // Let the last messages reach the launcher, then go: over TLS, once the launcher has
  // closed its side too (exiting with its heartbeats unread would reset the connection).
  if (tlsSocket !== undefined) tlsSocket.once('close', exit);
  else process.stdout.once('finish', exit);
  channel?.close();
  stdio.close();
}

function begin(spec: AgentStart): void {
  if (start !== undefined) return;
  start = spec;
  const missing = spec.requiredPaths.filter((p) => !existsSync(p));
  if (missing.length > 0) return fail(`host ${spec.host} lacks ${missing.join(', ')} (tsmpi and the program's packages must be at the same path on every host, or tsmpi under --prefix)`);
  let program: ProgramSpec = { kind: spec.program.kind as ProgramSpec['kind'], file: spec.program.file, args: spec.program.args };
  if (program.kind === 'bundle') {
    // The launcher's compiled program, in a private folder of this agent's, removed at exit.
    dir = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-agent-'));
    const file = path.join(dir, path.basename(spec.program.bundleName));
    writeFileSync(file, spec.program.bundle, { mode: 0o600 });
    program = { ...program, file };
  }
  const env = { ...process.env, ...spec.env };
  for (const place of spec.ranks) {
    const rank = place.rank;
    const r = new RankProcess(program, { ...place, size: spec.size, node: spec.node }, env, rank === 0, {
      exit: (code, signal, error) => {
        // Report the exit once the rank's output has been forwarded (or shortly after, if a child of it holds the pipes).
        const report = (): void => {
          send({ exited: { rank, code: code ?? -1, signal: signal ?? '', error: error?.message ?? '' } });
          if (++exitedCount === spec.ranks.length) finish(0);
        };
        let reported = false;
        const once = (): void => {
          if (reported) return;
          reported = true;
          report();
        };
        r.child.once('close', once);
        setTimeout(once, 1000).unref();
      },
      fatal: (report) => send({ fatal: { rank, message: report.message, stack: report.stack, consequence: report.consequence, op: report.op ?? '' } }),
    });
    ranks.set(rank, r);
    forward(rank, r.stdout, STDOUT);
    forward(rank, r.stderr, STDERR);
  }
  send({ started: { pids: [...ranks.values()].map((r) => ({ rank: r.place.rank, pid: r.child.pid ?? 0 })) } });
  const beat = setInterval(() => {
    send({ heartbeat: {} });
    if (Date.now() - lastHeard > spec.silenceMs) stop(`no word from the launcher for ${spec.silenceMs} ms`);
  }, spec.heartbeatMs);
  beat.unref();
}

/** Forwards a rank's output stream, pausing it while the channel is full. */
function forward(rank: number, stream: NodeJS.ReadableStream | null, which: number): void {
  stream?.on('data', (data: Buffer) => {
    if (!send({ output: { rank, stream: which, data } })) {
      stream.pause();
      channel?.output.once('drain', () => stream.resume());
    }
  });
}

function hand(b: AgentBootstrap): void {
  if (start === undefined) return;
  const tokens = new Map(b.tokens.map((t) => [t.rank, Buffer.from(t.token).toString('base64')]));
  // The job's shared memory on this host: its doorbell folder, removed with every segment at exit.
  const shmDir = ranks.size > 1 ? makeShmDir(b.jobId) : undefined;
  shm = { jobId: b.jobId, dir: shmDir };
  for (const r of ranks.values()) {
    r.bootstrap({
      jobId: b.jobId,
      rank: r.place.rank,
      size: start.size,
      enroll: b.enroll,
      coordinator: b.coordinator,
      caPem: b.caPem,
      token: tokens.get(r.place.rank) ?? '',
      host: start.host,
      node: start.node,
      network: { multiHost: true, include: b.ifInclude, exclude: b.ifExclude },
      shmDir,
    });
  }
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(`received ${signal}`));
// The first message must come soon; an agent nobody talks to does not linger.
setTimeout(() => start === undefined && stop('no job from the launcher within 30 s'), 30_000).unref();
