/**
 * Process-wide runtime: `init()`, `finalize()`, `abort()`.
 *
 * Under `tsmpirun` a rank finds its bootstrap on an inherited pipe (the file
 * descriptor in `TSMPI_BOOTSTRAP_FD`): the coordinator's address, the job CA
 * certificate and a single-use token. Nothing secret is in argv or the
 * environment. The rank then generates its key pair, trades a CSR and the
 * token for its certificate, starts its gRPC server, registers its address
 * and waits for the address table. Without a launcher, `init()` gives a
 * one-rank world, as an MPI singleton does.
 */
import { writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { checkLeftovers } from './collectives/guard.js';
import { Communicator } from './comm.js';
import { config } from './config.js';
import { BootstrapError, FinalizedError, NotInitializedError, PeerFailedError } from './errors.js';
import { configurationError } from './environment.js';
import { held } from './keepalive.js';
import { debug, setLogRank, warn } from './log.js';
import { ReportLimiter } from './reports.js';
import { pendingOperations } from './state.js';
import { ClockOffset, recorder, traceNow } from './trace.js';
import { Engine } from './p2p/engine.js';
import { Messenger } from './p2p/rendezvous.js';
import { nativeShm, type ShmNative } from './reduce/native.js';
import { ShmLink, type ShmOffer } from './transport/shm.js';
import { createCsr, generateKeyPair, type KeyPair } from './security/pki.js';
import { channelCredentials, type TlsMaterial } from './security/tls.js';
import { grpcTarget, interfaceAddresses } from './transport/addresses.js';
import { GrpcTransport, type Endpoint } from './transport/grpc.js';
import { MemoryJob } from './transport/memory.js';
import type { Transport } from './transport/transport.js';
import { coordinatorService } from './transport/wire.js';

/** The bootstrap a launcher writes, as one JSON line, on the rank's pipe. */
export interface Bootstrap {
  jobId: string;
  rank: number;
  size: number;
  /** `ip:port` addresses of the coordinator's enrollment server (server-authenticated TLS), to try in order. */
  enroll: string[];
  /** `ip:port` addresses of the coordinator's session server (mutual TLS), to try in order. */
  coordinator: string[];
  /** The job CA certificate (PEM). */
  caPem: string;
  /** Single-use enrollment token, base64. */
  token: string;
  /** This rank's host, as the job names it. */
  host: string;
  /** The index of that host in the job. */
  node: number;
  /** Where the rank listens: loopback only, or (a job across hosts) also its host's interfaces, filtered. */
  network: { multiHost: boolean; include: string[]; exclude: string[] };
  /** The job's 0700 folder on this host for shared-memory doorbells (none: no shared memory). */
  shmDir?: string | undefined;
}

/** A line a rank writes back on its pipe when it dies of an uncaught error; the launcher prints it. */
/**
 * What a rank tells its launcher on the report pipe before it may fail because
 * of it: it found `rank` dead. A failure of this rank after it is then a
 * consequence, even when the launcher sees it before the dead rank's exit.
 */
export interface PeerLostReport {
  type: 'peer-lost';
  rank: number;
}

export interface FatalReport {
  type: 'fatal';
  /** `uncaught exception: TypeError: boom` */
  message: string;
  /** The error's stack frames (source-mapped), without its first line. */
  stack: string;
  /** A `PeerFailedError`: a consequence of another rank's failure, not a cause. */
  consequence: boolean;
  /** For a consequence, the operation that was waiting (`allreduce`, `recv`). */
  op?: string;
}

interface JobEventMessage {
  table?: { endpoints: Array<{ rank: number; addresses: string[]; host: string; node: number; maxMessageBytes: number; shm?: ShmOffer | null }> };
  peerFailed?: { rank: number; host: string; reason: string };
  allFinalized?: object;
  peerFinalizing?: { rank: number };
  reportState?: object;
  clock?: { id: number; timeUs: number };
}

type SessionCall = grpc.ClientDuplexStream<object, JobEventMessage>;

interface State {
  world: Communicator;
  engine: Engine;
  /** Security and protocol reports to the launcher, rate-limited. */
  reports?: ReportLimiter<object>;
  transport: Transport | Messenger;
  session?: SessionCall;
  fence?: FinalizeFence;
  clients: grpc.Client[];
  lifeline?: net.Socket;
}

let initializing: Promise<Communicator> | undefined;
let state: State | undefined;
let finalized = false;

/**
 * Joins the job and resolves to the world communicator (MPI_Init). Calling
 * it again returns the same communicator.
 * @throws BootstrapError when the launcher's bootstrap is missing or malformed, enrollment is refused, or the job does not assemble within `TSMPI_INIT_TIMEOUT_MS`.
 * @throws FinalizedError after {@link finalize}.
 */
export function init(): Promise<Communicator> {
  if (finalized) return Promise.reject(new FinalizedError('init'));
  initializing ??= held(start);
  return initializing;
}

/** The world communicator after `init()` resolved. @throws NotInitializedError before. */
export function world(): Communicator {
  if (state === undefined) throw new NotInitializedError('world');
  return state.world;
}

/**
 * The name of the host this process runs on, as the job names it (the name in
 * `-H`, the hostfile or the Slurm allocation; this host's name otherwise):
 * MPI_Get_processor_name.
 */
export function processorName(): string {
  return hostName ?? os.hostname();
}

let hostName: string | undefined;

/** True between a resolved `init()` and `finalize()` (MPI_Initialized && !MPI_Finalized). */
export function initialized(): boolean {
  return state !== undefined && !finalized;
}

interface Prepared {
  fd: number;
  lifeline: net.Socket;
  bootstrap: Promise<Bootstrap>;
  keyPair: Promise<KeyPair>;
  /** Set by finalize() of whichever copy of tsmpi the program uses: the lifeline may close. */
  finalized: boolean;
}

/**
 * Shared by every copy of tsmpi loaded in this process (the preload's and,
 * under a TypeScript loader, the program's may differ): the pipe can be read
 * only once.
 */
const PREPARED = Symbol.for('tsmpi.prepared');
const shared = globalThis as { [PREPARED]?: Prepared };

/**
 * Starts the work `init()` needs that does not depend on the program: reads
 * the bootstrap pipe and generates the key pair, while the program is still
 * loading. `tsmpirun` calls it through `--import tsmpi/preload`; `init()`
 * calls it too. Returns `undefined` outside a launcher.
 */
export function prepare(): Prepared | undefined {
  const existing = shared[PREPARED];
  if (existing) return existing;
  const fdText = process.env.TSMPI_BOOTSTRAP_FD;
  if (fdText === undefined) return undefined;
  const fd = Number(fdText);
  if (!Number.isInteger(fd) || fd < 3) throw new BootstrapError(`TSMPI_BOOTSTRAP_FD=${fdText} is not an inherited descriptor`);
  const lifeline = new net.Socket({ fd, readable: true, writable: true });
  // Unreferenced: a program that never calls init() must still exit.
  lifeline.unref();
  // The lifeline holds from process start: when the launcher goes, so does this rank.
  lifeline.on('close', () => {
    if (!prepared.finalized) {
      warn('the launcher is gone; exiting');
      process.exit(1);
    }
  });
  lifeline.on('error', () => undefined);
  installFatalReport(fd);
  const keyPair = generateKeyPair();
  const bootstrap = readBootstrap(lifeline);
  keyPair.catch(() => undefined);
  bootstrap.catch(() => undefined);
  const prepared: Prepared = { fd, lifeline, bootstrap, keyPair, finalized: false };
  shared[PREPARED] = prepared;
  return prepared;
}

async function start(): Promise<Communicator> {
  const misconfigured = configurationError();
  if (misconfigured !== undefined) throw misconfigured;
  const ready = prepare();
  finalizeAtExit(ready?.fd);
  if (ready === undefined) {
    const transport = new MemoryJob(1).transport(0);
    const engine = new Engine(transport);
    const world = new Communicator(engine, 0, () => finalized);
    state = { world, engine, transport, clients: [] };
    return world;
  }
  const { lifeline, keyPair } = ready;
  const bootstrap = await ready.bootstrap;
  hostName = bootstrap.host;
  setLogRank(bootstrap.rank, bootstrap.host);
  if (recorder !== undefined) {
    recorder.rank = bootstrap.rank;
    recorder.pid = bootstrap.node + 1;
  }
  const sinceStart = (): string => `${Math.round(performance.now())} ms after the process started`;

  const keys = await keyPair;
  const enrollClient = new grpc.Client(
    grpcTarget(bootstrap.enroll),
    channelCredentials({ caPem: bootstrap.caPem }, expectCoordinator(bootstrap.jobId)),
    COORDINATOR_CHANNEL_OPTIONS,
  );
  const certPem = await enroll(enrollClient, bootstrap, await createCsr(keys, `rank ${bootstrap.rank}`)).finally(() => enrollClient.close());
  const tls: TlsMaterial = { caPem: bootstrap.caPem, certPem, keyPem: keys.privateKeyPem };
  debug('wireup', `rank ${bootstrap.rank} enrolled: it has its certificate, ${sinceStart()}`, 'enrolled');

  const session: { call?: SessionCall } = {};
  const reports = new ReportLimiter<{ security?: { peer: string; reason: string; unauthenticated: boolean }; protocol?: { peer: string; reason: string } }>((report, count) => {
    const [kind, body] = Object.entries(report)[0] as [string, object];
    session.call?.write({ [kind]: { ...body, count } });
  });
  const grpcLink = await GrpcTransport.start({
    jobId: bootstrap.jobId,
    rank: bootstrap.rank,
    size: bootstrap.size,
    tls,
    listen: listenAddresses(bootstrap),
    node: bootstrap.node,
    // The launcher prints what it is told, at a bounded rate.
    onSecurityEvent: (peer, reason, unauthenticated) => reports.report(`security ${reason}`, { security: { peer, reason, unauthenticated } }),
    onProtocolEvent: (peer, reason) => reports.report(`protocol ${peer} ${reason}`, { protocol: { peer, reason } }),
  });
  const sessionClient = new grpc.Client(
    grpcTarget(bootstrap.coordinator),
    channelCredentials(tls, expectCoordinator(bootstrap.jobId)),
    COORDINATOR_CHANNEL_OPTIONS,
  );
  const sessionCall = sessionClient.makeBidiStreamRequest(
    '/tsmpi.v1.Coordinator/Session',
    sessionSerialize,
    sessionDeserialize,
  ) as SessionCall;
  session.call = sessionCall;
  const fence = new FinalizeFence();
  const shmLink = await sharedMemory(bootstrap, grpcLink);
  shmLink?.onProtocolEvent((peer, reason) => reports.report(`protocol ${peer} ${reason}`, { protocol: { peer, reason } }));
  // The protocol above the links, and the engine above it, are in place before any frame can arrive.
  // Each peer keeps one link for the whole job: shared memory on this host, gRPC otherwise.
  const links = shmLink === undefined ? [grpcLink] : [shmLink, grpcLink];
  const messenger = new Messenger(bootstrap.rank, bootstrap.size, links, (dest) => (shmLink?.reaches(dest) ? shmLink : grpcLink), grpcLink);
  messenger.onPeerLost((rank) => {
    try {
      writeSync(ready.fd, `${JSON.stringify({ type: 'peer-lost', rank } satisfies PeerLostReport)}\n`);
    } catch {
      // The launcher is gone: the lifeline ends this rank.
    }
  });
  const engine = new Engine(messenger);
  const table = await joinSession(sessionCall, grpcLink, messenger, fence, bootstrap, shmLink?.offer());
  debug('wireup', `rank ${bootstrap.rank} has the address table of ${table.length} ranks, ${sinceStart()}`, 'table', { size: table.length });
  grpcLink.setPeers(table);
  if (shmLink !== undefined) {
    const local = table.map((e, rank) => ({ e, rank })).filter(({ e }) => e.node === bootstrap.node).map(({ rank }) => rank);
    const offers = new Map(table.flatMap((e, rank) => (e.shm ? [[rank, e.shm] as const] : [])));
    await shmLink.connect(local, offers);
  }
  const world = new Communicator(engine, 0, () => finalized);
  state = { world, engine, transport: messenger, session: sessionCall, fence, clients: [sessionClient], lifeline, reports };
  debug('wireup', `rank ${bootstrap.rank} of ${bootstrap.size} on ${bootstrap.host} ready at ${grpcLink.addresses.join(', ')}; coordinator at ${bootstrap.coordinator.join(', ')}`, 'ready', {
    addresses: grpcLink.addresses,
    coordinator: bootstrap.coordinator,
    msSinceStart: Math.round(performance.now()),
  });
  debug('transport', `rank ${bootstrap.rank}: ${shmLink ? 'shared memory with the other ranks of this host' : `gRPC with the ranks of this host (${shmUnavailable(bootstrap)})`}, gRPC with other hosts`, 'paths', {
    sameHost: shmLink ? 'shm' : 'grpc',
  });
  recorder?.span(recorder.lane(), 'start and init', 'runtime', performance.timeOrigin * 1000, { host: bootstrap.host, pid: process.pid });
  return world;
}

/** Why the ranks of this host do not use shared memory, if they do not. */
function shmUnavailable(bootstrap: Bootstrap): string | undefined {
  if (config.transport === 'grpc') return 'TSMPI_TRANSPORT=grpc';
  if (localSize() < 2) return 'no other rank on this host';
  if (bootstrap.shmDir === undefined) return 'the launcher gave no folder for shared-memory doorbells';
  return nativeShm().reason;
}

function localSize(): number {
  const n = Number(process.env.TSMPI_COMM_WORLD_LOCAL_SIZE);
  return Number.isSafeInteger(n) && n > 0 ? n : 1;
}

/** This rank's shared-memory link with the ranks of its host, when they can use one. */
async function sharedMemory(bootstrap: Bootstrap, peers: GrpcTransport): Promise<ShmLink | undefined> {
  if (shmUnavailable(bootstrap) !== undefined) return undefined;
  return ShmLink.create({
    jobId: bootstrap.jobId,
    rank: bootstrap.rank,
    localSize: localSize(),
    dir: bootstrap.shmDir as string,
    ringBytes: config.shmRingBytes,
    // Polling helps only where no rank of this host waits for a core.
    pollMicros: localSize() <= os.availableParallelism() ? config.shmPollMicros : 0,
    native: nativeShm().shm as ShmNative,
    hostOf: (rank) => peers.hostOf(rank),
  });
}

const COORDINATOR_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // SNI name only: identity is checked from the certificate's SAN, never the host name.
  'grpc.ssl_target_name_override': 'tsmpi',
  // The address table of a large job is more than grpc-js's default 4 MiB.
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024,
  // A long backstop for a silent link, as between ranks (a busy rank cannot answer pings).
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 300_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.enable_retries': 0,
};

const sessionMethod = coordinatorService.Session as grpc.MethodDefinition<object, JobEventMessage>;
const enrollMethod = coordinatorService.Enroll as grpc.MethodDefinition<object, { certPem: string }>;
const sessionSerialize = sessionMethod.requestSerialize;
const sessionDeserialize = sessionMethod.responseDeserialize;

function expectCoordinator(jobId: string) {
  return (identity: { jobId: string; role: string } | undefined): string | undefined =>
    identity?.role === 'coordinator' && identity.jobId === jobId ? undefined : `the coordinator's certificate is not of job ${jobId}`;
}

function readBootstrap(socket: net.Socket): Promise<Bootstrap> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => fail(new BootstrapError('no bootstrap from the launcher within 30 s')), 30_000);
    timer.unref();
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      try {
        resolve(parseBootstrap(text.slice(0, newline)));
      } catch (error) {
        reject(error);
      }
    };
    socket.on('data', onData);
    socket.once('error', (error) => fail(new BootstrapError(`cannot read the bootstrap pipe: ${error.message}`, { cause: error })));
  });
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** The addresses this rank listens on: loopback, and in a job across hosts its host's interfaces. */
function listenAddresses(bootstrap: Bootstrap): string[] {
  if (!bootstrap.network.multiHost) return ['127.0.0.1'];
  const addresses = interfaceAddresses(bootstrap.network);
  if (addresses.length === 0) {
    throw new BootstrapError(
      `host ${bootstrap.host} has no IPv4 interface that --if-include ${bootstrap.network.include.join(',') || '(any)'} / --if-exclude ${bootstrap.network.exclude.join(',') || '(none)'} lets through`,
    );
  }
  return ['127.0.0.1', ...addresses];
}

/** Parses the bootstrap line; throws BootstrapError. @internal exported for tests. */
export function parseBootstrap(line: string): Bootstrap {
  let b: Partial<Bootstrap>;
  try {
    b = JSON.parse(line) as Partial<Bootstrap>;
  } catch (error) {
    throw new BootstrapError('the bootstrap is not JSON', { cause: error });
  }
  const ok =
    typeof b.jobId === 'string' &&
    Number.isInteger(b.rank) &&
    Number.isInteger(b.size) &&
    (b.rank as number) >= 0 &&
    (b.rank as number) < (b.size as number) &&
    typeof b.caPem === 'string' &&
    typeof b.token === 'string' &&
    isStrings(b.enroll) &&
    isStrings(b.coordinator) &&
    typeof b.host === 'string' &&
    Number.isInteger(b.node) &&
    typeof b.network === 'object' &&
    b.network !== null &&
    typeof b.network.multiHost === 'boolean' &&
    isStrings(b.network.include) &&
    isStrings(b.network.exclude) &&
    (b.shmDir === undefined || typeof b.shmDir === 'string');
  if (!ok) throw new BootstrapError('the bootstrap lacks a field or has a malformed one');
  return b as Bootstrap;
}

function enroll(client: grpc.Client, bootstrap: Bootstrap, csrDer: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/tsmpi.v1.Coordinator/Enroll',
      enrollMethod.requestSerialize,
      enrollMethod.responseDeserialize,
      { rank: bootstrap.rank, token: Buffer.from(bootstrap.token, 'base64'), csrDer },
      { deadline: Date.now() + config.initTimeoutMs },
      (error, reply) => {
        if (error || !reply?.certPem) {
          reject(new BootstrapError(`enrollment refused: ${error?.details ?? 'no certificate'}`, { cause: error }));
        } else resolve(reply.certPem);
      },
    );
  });
}

/**
 * The finalize fence: released by the coordinator once every rank has called
 * finalize(), failed when a rank dies first. (A fence through the coordinator,
 * as PMIx does, rather than a barrier between ranks: a job whose ranks never
 * talked to each other opens no connection just to end.)
 */
class FinalizeFence {
  release!: () => void;
  fail!: (error: Error) => void;
  readonly done = new Promise<void>((resolve, reject) => {
    this.release = resolve;
    this.fail = reject;
  });

  constructor() {
    this.done.catch(() => undefined);
  }
}

function joinSession(call: SessionCall, grpcLink: GrpcTransport, transport: Messenger, fence: FinalizeFence, bootstrap: Bootstrap, shm: ShmOffer | undefined): Promise<Array<Endpoint & { shm?: ShmOffer | undefined }>> {
  return new Promise((resolve, reject) => {
    let joined = false;
    const timer = setTimeout(
      () => reject(new BootstrapError(`the job did not assemble within ${config.initTimeoutMs} ms (TSMPI_INIT_TIMEOUT_MS)`)),
      config.initTimeoutMs,
    );
    call.on('data', (event: JobEventMessage) => {
      if (event.table && !joined) {
        joined = true;
        clearTimeout(timer);
        resolve(event.table.endpoints.map((e) => ({ addresses: e.addresses, host: e.host, node: e.node, maxMessageBytes: Number(e.maxMessageBytes), shm: e.shm ?? undefined })));
      } else if (event.peerFailed) {
        transport.peerDied(event.peerFailed.rank, event.peerFailed.reason);
        // Under --enable-recovery the coordinator releases the fence once the living ranks are in it.
        if (!config.recovery) fence.fail(new PeerFailedError({ rank: event.peerFailed.rank, host: event.peerFailed.host, op: 'finalize', reason: event.peerFailed.reason }));
      } else if (event.peerFinalizing) {
        transport.peerFinalizing(event.peerFinalizing.rank);
      } else if (event.reportState) {
        call.write({ state: { pending: state === undefined ? [] : pendingOperations(state.engine, transport.pendingSends()) } });
      } else if (event.allFinalized) {
        fence.release();
      } else if (event.clock && recorder !== undefined) {
        clock.sample(probeSent, traceNow(), event.clock.timeUs);
        if (event.clock.id + 1 < CLOCK_PROBES) probe(event.clock.id + 1);
      }
    });
    call.on('error', (error: grpc.ServiceError) => {
      clearTimeout(timer);
      if (!joined) reject(new BootstrapError(`coordinator session failed: ${error.details}`, { cause: error }));
      else if (!finalized) {
        warn(`lost the coordinator (${error.details}); exiting`);
        process.exit(1);
      }
    });
    call.write({ register: { addresses: grpcLink.addresses, host: bootstrap.host, node: bootstrap.node, pid: process.pid, maxMessageBytes: config.maxMessageBytes, shm: shm ?? null } });
    // Under --trace: the offset of this clock to the launcher's, from a few round trips while the job assembles.
    let probeSent = 0;
    const probe = (id: number): void => {
      probeSent = traceNow();
      call.write({ clock: { id } });
    };
    if (recorder !== undefined) probe(0);
  });
}

/** Round trips to the launcher's clock at wire-up, under --trace. */
const CLOCK_PROBES = 8;
/** This rank's clock offset to the launcher's, under --trace. */
const clock = new ClockOffset();
/** Bytes of trace in one session message (the session's limit is 64 KiB). */
const TRACE_CHUNK_BYTES = 48 * 1024;

/** Hands this rank's spans to the launcher, before Finalize on the same stream. */
function sendTrace(call: SessionCall): void {
  if (recorder === undefined) return;
  const json = Buffer.from(JSON.stringify(recorder.events));
  for (let at = 0; ; at += TRACE_CHUNK_BYTES) {
    const last = at + TRACE_CHUNK_BYTES >= json.length;
    call.write({ trace: { json: json.subarray(at, at + TRACE_CHUNK_BYTES), last, clockOffsetUs: clock.offset, clockErrorUs: clock.error, dropped: recorder.dropped } });
    if (last) break;
  }
}

/**
 * Under a launcher, an error nobody catches is reported to the launcher,
 * which prints it last, with the rank, as the job's cause (or, for a
 * `PeerFailedError`, as a consequence of another rank's failure); the rank
 * then exits with status 1, as Node does. A program that handles
 * `uncaughtException` itself keeps that to itself. When the launcher cannot
 * be told, the error is printed here, as Node would.
 */
function installFatalReport(fd: number): void {
  process.on('uncaughtException', (error, origin) => {
    if (process.listenerCount('uncaughtException') > 1) return; // the program's own handler decides
    fatal(fd, error, origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception');
  });
}

/** Reports `error` to the launcher (or prints it, when the launcher cannot be told) and exits with status 1. */
function fatal(fd: number, error: unknown, what: string): never {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const frames = error instanceof Error ? (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line) && !line.includes('node:internal')) : [];
  const consequence = (error as { code?: unknown } | null)?.code === 'ERR_TSMPI_PEER_FAILED';
  const op = consequence ? String((error as { op?: unknown }).op) : undefined;
  const report: FatalReport = { type: 'fatal', message: `${what}: ${message}`, stack: frames.join('\n'), consequence, ...(op ? { op } : {}) };
  try {
    writeSync(fd, `${JSON.stringify(report)}\n`);
  } catch {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n`);
  }
  process.exit(1);
}

/**
 * Finalizes a program that ends without calling {@link finalize} (as mpi4py
 * does at exit): `beforeExit` comes once nothing the program started is
 * pending. A rank still owed a message or a collective by this one learns
 * that nothing more comes from it, and fails, naming it.
 */
function finalizeAtExit(fd: number | undefined): void {
  process.on('beforeExit', () => {
    if (state === undefined || finalized || leaving !== undefined) return;
    finalize().catch((error: unknown) => {
      if (fd !== undefined) fatal(fd, error, 'finalize at exit');
      warn(`finalize at exit failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    });
  });
}

let leaving: Promise<void> | undefined;

/**
 * Leaves the job (MPI_Finalize): hands over this rank's last messages, tells
 * the other ranks that nothing more comes from it, waits until every rank has
 * called it, then closes every connection. A program that ends without
 * calling it is finalized at exit.
 * @throws NotInitializedError before `init()`; PeerFailedError if a rank died first.
 */
export function finalize(): Promise<void> {
  if (finalized) return Promise.resolve();
  if (state === undefined) return Promise.reject(new NotInitializedError('finalize'));
  const s = state;
  leaving ??= held(async () => {
    if (s.session !== undefined && s.fence !== undefined && s.transport instanceof Messenger) {
      await s.transport.quiesce();
      s.reports?.flush();
      sendTrace(s.session);
      s.session.write({ finalize: {} });
      await s.fence.done;
      // Every rank has handed over its last message: what is left for a completed collective is a mismatch.
      checkLeftovers();
    } else {
      await s.world.barrier();
    }
    finalized = true;
    if (shared[PREPARED]) shared[PREPARED].finalized = true;
    await s.transport.close();
    s.session?.end();
    for (const client of s.clients) client.close();
    s.lifeline?.destroy();
  });
  return leaving;
}

/**
 * Ends the whole job with exit status `code` (MPI_Abort): the launcher stops
 * every rank, this one included, at once; should it not (it is gone, or the
 * report cannot reach it within 10 s), this rank exits with `code` itself.
 * Never resolves.
 */
export async function abort(code = 1, reason = 'abort() called'): Promise<never> {
  const session = state?.session;
  if (session !== undefined) {
    const stopped = new Promise<void>((resolve) => {
      state?.lifeline?.once('close', () => resolve());
      setTimeout(resolve, 10_000).unref();
    });
    session.write({ abort: { code, reason } });
    await held(() => stopped);
  }
  process.exit(code);
}
