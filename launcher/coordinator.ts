/**
 * The wire-up coordinator (PMI-like), run by the launcher.
 *
 * Two gRPC servers, both TLS 1.3 with a coordinator certificate from the job CA:
 * - enrollment: server-authenticated TLS; a rank presents its single-use
 *   token and a CSR and gets its leaf certificate (the CA picks the identity);
 * - session: mutual TLS; a rank registers its address, receives the address
 *   table once every rank has registered, then job events (peer failures).
 *   Ranks report aborts, refused connections and finalize on it.
 */
import * as grpc from '@grpc/grpc-js';
import { BootstrapTokens, createCsr, generateKeyPair, JobCa, parseIdentity, type KeyPair } from '../src/security/pki.js';
import { enrollmentServerCredentials, mutualTlsServerCredentials, type TlsMaterial } from '../src/security/tls.js';
import { ReportLimiter } from '../src/reports.js';
import type { PendingOperation } from '../src/state.js';
import { GuardedListener } from '../src/transport/listener.js';
import { coordinatorService } from '../src/transport/wire.js';
import { traceNow } from '../src/trace.js';

/** What the coordinator tells the launcher. */
export interface CoordinatorEvents {
  /** A rank asked to abort the job. */
  abort(rank: number, code: number, reason: string): void;
  /**
   * A rank refused a connection for a security reason, or the coordinator
   * refused one; `unauthenticated`: it closed before authenticating (which a
   * rank that dies during its handshake does too).
   */
  security(rank: number | undefined, peer: string, reason: string, unauthenticated: boolean, count: number): void;
  /** A rank refused a peer that broke the protocol or its limits (`count` such refusals). */
  protocol(rank: number, peer: string, reason: string, count: number): void;
  /** A registered rank's session ended before it finalized (its process died, or its link to the launcher broke). */
  lost(rank: number, reason: string): void;
}

/** A registered rank. */
export interface RankEndpoint {
  rank: number;
  addresses: string[];
  host: string;
  pid: number;
  node: number;
  maxMessageBytes: number;
  shm?: { segment: string; key: Buffer; doorbell: string; pid: number; address: string } | null;
}

interface RankEventMessage {
  register?: { addresses: string[]; host: string; pid: number; node: number; maxMessageBytes: number; shm?: { segment: string; key: Buffer; doorbell: string; pid: number; address: string } | null };
  abort?: { code: number; reason: string };
  security?: { peer: string; reason: string; unauthenticated: boolean; count: number };
  protocol?: { peer: string; reason: string; count: number };
  state?: { pending: PendingOperation[] };
  finalize?: object;
  clock?: { id: number };
  trace?: { json: Buffer; last: boolean; clockOffsetUs: number; clockErrorUs: number; dropped: number | string };
}

/** What the coordinator collected of one rank's trace (`tsmpirun --trace`). */
export interface CollectedTrace {
  chunks: Buffer[];
  bytes: number;
  /** The rank sent more than the limit: the rest was not kept. */
  truncated: boolean;
  /** It sent its last chunk. */
  complete: boolean;
  clockOffsetUs: number;
  clockErrorUs: number;
  dropped: number;
}

/** How many clock probes the coordinator answers per rank. */
const MAX_CLOCK_PROBES = 64;

type SessionCall = grpc.ServerDuplexStream<RankEventMessage, object>;

/** The coordinator of one job. */
export class Coordinator {
  readonly ca: JobCa;
  readonly size: number;
  readonly tokens = new BootstrapTokens();
  /** `ip:port` of the enrollment server, on each address it listens on. */
  enrollAddresses: string[] = [];
  /** `ip:port` of the session server, on each address it listens on. */
  sessionAddresses: string[] = [];
  readonly registered = new Map<number, RankEndpoint>();
  readonly finalized = new Set<number>();
  /** Ranks reported dead (their process ended, or their host was lost). */
  readonly #dead = new Set<number>();
  #fenceReleased = false;
  readonly #sessions = new Map<number, SessionCall>();
  readonly #events: CoordinatorEvents;
  /** `tsmpirun --trace`: the most trace bytes taken from one rank; undefined: no tracing. */
  readonly #traceLimit: number | undefined;
  /** Each rank's trace, under --trace. */
  readonly traces = new Map<number, CollectedTrace>();
  /** When every rank had registered (the launcher's clock, µs), for the trace. */
  assembledAt: number | undefined;
  readonly #servers: grpc.Server[] = [];
  #closed = false;
  #enrollListener: GuardedListener | undefined;
  #sessionListener: GuardedListener | undefined;
  /** The coordinator's own refusals, at a bounded rate. */
  readonly #refusals: ReportLimiter<{ peer: string; reason: string }>;
  /** The coordinator's own TLS material (its certificate names it the coordinator of this job), once started. */
  tls: TlsMaterial | undefined;

  /** `traceLimitBytes`: under --trace, the most trace bytes one rank may hand over. */
  constructor(ca: JobCa, size: number, events: CoordinatorEvents, traceLimitBytes?: number) {
    this.ca = ca;
    this.size = size;
    this.#events = events;
    this.#traceLimit = traceLimitBytes;
    this.#refusals = new ReportLimiter(({ peer, reason }, count) => events.security(undefined, peer, reason, false, count));
  }

  /**
   * Starts both servers on each of `addresses` (IPv4; ports chosen by the
   * OS): loopback for ranks of the launcher's host, and, for a job across
   * hosts, the interfaces the other hosts reach. `keyPair` may be made in advance.
   */
  async start(addresses: readonly string[], keyPair: Promise<KeyPair> = generateKeyPair()): Promise<void> {
    const keys = await keyPair;
    const certPem = await this.ca.issue(await createCsr(keys, 'coordinator'), { jobId: this.ca.jobId, role: 'coordinator' });
    const tls: TlsMaterial = { caPem: this.ca.certPem, certPem, keyPem: keys.privateKeyPem };
    this.tls = tls;
    const service = coordinatorService;

    const enrollServer = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
    enrollServer.addService({ Enroll: service.Enroll } as grpc.ServiceDefinition, {
      Enroll: (call: grpc.ServerUnaryCall<{ rank: number; token: Buffer; csrDer: Buffer }, object>, callback: grpc.sendUnaryData<object>) =>
        this.#enroll(call, callback),
    });
    const sessionServer = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
    sessionServer.addService({ Session: service.Session } as grpc.ServiceDefinition, {
      Session: (call: SessionCall) => this.#session(call),
    });
    this.#servers.push(enrollServer, sessionServer);
    // Our own listeners (listener.ts): a connection has a deadline to enroll or to open its
    // session, and only so many may wait unauthenticated; refusals are reported, rate-limited.
    const guard = (server: grpc.Server, credentials: grpc.ServerCredentials, kind: string): GuardedListener =>
      new GuardedListener(server.createConnectionInjector(credentials), {
        deadlineMs: AUTH_DEADLINE_MS,
        maxPending: MAX_PENDING_CONNECTIONS,
        report: (peer, reason) => this.#refusals.report(`${kind} ${reason}`, { peer, reason: `${kind} port: ${reason}` }),
      });
    this.#enrollListener = guard(enrollServer, enrollmentServerCredentials(tls), 'enrollment');
    this.#sessionListener = guard(sessionServer, mutualTlsServerCredentials(tls), 'session');
    await this.#enrollListener.listen(addresses);
    await this.#sessionListener.listen(addresses);
    this.enrollAddresses.push(...this.#enrollListener.addresses);
    this.sessionAddresses.push(...this.#sessionListener.addresses);
  }

  #enroll(
    call: grpc.ServerUnaryCall<{ rank: number; token: Buffer; csrDer: Buffer }, object>,
    callback: grpc.sendUnaryData<object>,
  ): void {
    this.#enrollListener?.authenticated(call.getPeer()); // it has a token to show; checked here
    const { rank, token, csrDer } = call.request;
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size || !this.tokens.redeem(rank, token)) {
      this.#refusals.report(`enroll ${rank}`, { peer: call.getPeer(), reason: `enrollment as rank ${rank} with an invalid or spent token` });
      callback({ code: grpc.status.PERMISSION_DENIED, details: 'invalid or spent bootstrap token' });
      return;
    }
    this.ca.issue(csrDer, { jobId: this.ca.jobId, role: 'rank', rank }).then(
      (certPem) => callback(null, { certPem }),
      (error: unknown) => callback({ code: grpc.status.INVALID_ARGUMENT, details: `bad CSR: ${(error as Error).message}` }),
    );
  }

  #session(call: SessionCall): void {
    this.#sessionListener?.authenticated(call.getPeer()); // TLS checked its certificate; its identity is checked here
    const identity = parseIdentity(call.getAuthContext()?.sslPeerCertificate?.subjectaltname);
    if (identity?.role !== 'rank' || identity.jobId !== this.ca.jobId || identity.rank >= this.size) {
      this.#refusals.report('session', { peer: call.getPeer(), reason: 'session without a rank certificate of this job' });
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'not a rank of this job' });
      return;
    }
    const rank = identity.rank;
    let probes = 0;
    call.on('data', (event: RankEventMessage) => {
      if (event.register) {
        if (this.registered.has(rank)) return;
        this.#sessions.set(rank, call);
        this.registered.set(rank, { rank, ...event.register });
        if (this.registered.size === this.size) {
          this.assembledAt = traceNow();
          this.tokens.expireAll(); // the job has assembled: an unredeemed token can only be stolen
          this.#publish();
        }
      } else if (event.abort) {
        this.#events.abort(rank, event.abort.code, event.abort.reason);
      } else if (event.security) {
        this.#events.security(rank, event.security.peer, event.security.reason, event.security.unauthenticated, event.security.count);
      } else if (event.state) {
        this.#stateWaiters.get(rank)?.(event.state.pending);
      } else if (event.clock) {
        if (this.#traceLimit !== undefined && probes++ < MAX_CLOCK_PROBES) call.write({ clock: { id: event.clock.id, timeUs: traceNow() } });
      } else if (event.trace) {
        if (this.#traceLimit !== undefined) this.#collectTrace(rank, event.trace);
      } else if (event.protocol) {
        this.#events.protocol(rank, event.protocol.peer, event.protocol.reason, event.protocol.count);
      } else if (event.finalize) {
        this.finalized.add(rank);
        for (const [other, session] of this.#sessions) if (other !== rank && !session.destroyed) session.write({ peerFinalizing: { rank } });
        this.#releaseFence();
      }
    });
    const ended = (reason: string): void => {
      if (this.#sessions.get(rank) === call && !this.finalized.has(rank) && !this.#closed) this.#events.lost(rank, reason);
    };
    call.on('end', () => {
      call.end();
      ended('it closed its session');
    });
    call.on('error', (error: Error) => ended(`its session failed (${error.message})`));
    call.on('cancelled', () => ended('its session was cancelled'));
  }

  #collectTrace(rank: number, chunk: NonNullable<RankEventMessage['trace']>): void {
    let trace = this.traces.get(rank);
    if (trace === undefined) this.traces.set(rank, (trace = { chunks: [], bytes: 0, truncated: false, complete: false, clockOffsetUs: 0, clockErrorUs: 0, dropped: 0 }));
    if (trace.complete) return;
    if (trace.bytes + chunk.json.length > (this.#traceLimit as number)) trace.truncated = true;
    if (!trace.truncated) {
      trace.chunks.push(chunk.json);
      trace.bytes += chunk.json.length;
    }
    if (chunk.last) Object.assign(trace, { complete: true, clockOffsetUs: chunk.clockOffsetUs, clockErrorUs: chunk.clockErrorUs, dropped: Number(chunk.dropped) });
  }

  #publish(): void {
    const endpoints = [...this.registered.values()].sort((a, b) => a.rank - b.rank);
    // A rank's shared-memory offer goes only to the ranks of its host.
    for (const [rank, call] of this.#sessions) {
      const node = this.registered.get(rank)?.node;
      call.write({ table: { endpoints: endpoints.map((e) => (e.node === node ? e : { ...e, shm: null })) } });
    }
  }

  readonly #stateWaiters = new Map<number, (pending: PendingOperation[]) => void>();

  /**
   * Asks every rank what it is waiting in; resolves, after at most
   * `waitMs`, to each answer by rank (a rank that does not answer is absent:
   * it is stopped, or computing without yielding).
   */
  reportState(waitMs: number): Promise<Map<number, PendingOperation[]>> {
    const answers = new Map<number, PendingOperation[]>();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#stateWaiters.clear();
        resolve(answers);
      };
      const timer = setTimeout(finish, waitMs);
      const live = [...this.#sessions].filter(([rank, call]) => !call.destroyed && !this.finalized.has(rank));
      if (live.length === 0) return finish();
      for (const [rank, call] of live) {
        this.#stateWaiters.set(rank, (pending) => {
          answers.set(rank, pending.map((p) => ({ ...p, peer: Number(p.peer), tag: Number(p.tag), bytes: Number(p.bytes), waitedMs: Number(p.waitedMs) })));
          this.#stateWaiters.delete(rank);
          if (this.#stateWaiters.size === 0) finish();
        });
        call.write({ reportState: {} });
      }
    });
  }

  /** Tells every live rank that `rank` failed. */
  peerFailed(rank: number, reason: string): void {
    const host = this.registered.get(rank)?.host ?? '';
    this.#dead.add(rank);
    for (const [other, call] of this.#sessions) {
      if (other !== rank && !call.destroyed) call.write({ peerFailed: { rank, host, reason } });
    }
    this.#releaseFence();
  }

  /**
   * The finalize fence (MPI_Finalize is collective): released once every rank
   * is in it or dead (a job that goes on after a death, --enable-recovery).
   */
  #releaseFence(): void {
    if (this.#fenceReleased || this.finalized.size === 0) return;
    for (let rank = 0; rank < this.size; rank++) if (!this.finalized.has(rank) && !this.#dead.has(rank)) return;
    this.#fenceReleased = true;
    for (const [rank, session] of this.#sessions) if (!this.#dead.has(rank) && !session.destroyed) session.write({ allFinalized: {} });
  }

  /** Stops both servers. */
  close(): void {
    this.#closed = true;
    this.#enrollListener?.close();
    this.#sessionListener?.close();
    for (const call of this.#sessions.values()) if (!call.destroyed) call.end();
    for (const server of this.#servers) server.forceShutdown();
  }
}

/** Time a connection to the coordinator has to enroll or open its session, ms. */
const AUTH_DEADLINE_MS = 10_000;
/** Most connections to one coordinator port waiting to authenticate at once. */
const MAX_PENDING_CONNECTIONS = 256;
