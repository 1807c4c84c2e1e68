/**
 * The gRPC transport: one gRPC server per rank, mutual TLS 1.3, one
 * long-lived Attach stream per ordered pair of ranks that talk.
 *
 * Direction: data from A to B flows on the stream that B dialled to A, from
 * A's server to B's client, because grpc-js can widen only a client's
 * receive window (`grpc-node.flow_control_window`); client->server streaming
 * is capped by the server's fixed 64 KiB connection window. When A first
 * sends to B it dials B; B, on accepting A's stream, dials A back, and A
 * writes its messages for B on that dial-back stream. After first contact
 * both directions are open. Connections are made lazily, on first use.
 *
 * Framing on the response stream (pass-through codec, no protobufjs copy of
 * the payload): a length-delimited Envelope followed by the payload itself
 * when it is small (up to 16 KiB), or by ceil(payloadBytes / chunkBytes) raw
 * chunks when it is large. Small messages that queue up behind one another
 * (the RTS of a window of sends, the CTS for them) share one gRPC message of
 * up to 64 KiB: grpc-js's cost is per message, on both sides. Chunks are
 * views of the sender's memory; each write waits for `'drain'` when grpc-js
 * asks it to, and a send resolves when grpc-js has taken its last byte, so
 * the caller may reuse its buffer.
 *
 * Rendezvous (messages above `TSMPI_EAGER_BYTES`): the sender writes the
 * Envelope alone (RTS, announcing payloadBytes); the receiver's engine gets
 * a {@link RendezvousPayload} and matches it like any message; when a receive
 * takes it, `fetch()` writes a CTS back on the receiver's own stream to the
 * sender, and the sender writes the chunks (DATA). So a receiver never holds
 * the payload of a message nobody asked for. The sender answers CTSs in the
 * order they come, so the receiver knows which payload is due next: a chunk
 * above 64 KiB where a message begins (no envelope-led message is that large)
 * is the payload due, and goes into that receive's buffer without an
 * envelope. A smaller first chunk (`TSMPI_CHUNK_BYTES` below 64 KiB) comes
 * after a DATA envelope naming the rendezvous, which must be the one due.
 *
 * Identity: a peer's rank is the one in its certificate (SAN URI). The
 * dialling side checks the server's certificate names the rank it meant to
 * reach; the serving side checks the client's certificate is of this job and
 * that its Hello agrees with it. Refusals are reported through `onSecurityEvent`.
 */
import * as grpc from '@grpc/grpc-js';
import { config } from '../config.js';
import { AuthenticationError, PeerFailedError, ProtocolError, TransportError } from '../errors.js';
import { debug } from '../log.js';
import type { Identity } from '../security/pki.js';
import { parseIdentity } from '../security/pki.js';
import { channelCredentials, mutualTlsServerCredentials, type TlsMaterial } from '../security/tls.js';
import type { Peers } from '../p2p/rendezvous.js';
import { decodeDue, frameProblem } from './frame-check.js';
import type { Frame, FrameHandler, Link } from './transport.js';
import { dialOrder, grpcTarget, hostOf, SOCKET_ERRORS, tcpReach } from './addresses.js';
import { GuardedListener } from './listener.js';
import { ATTACH_PATH, decodeHello, encodeEnvelope, encodeHello, passThrough, rankServiceDefinition, Rendezvous, type WireEnvelope } from './wire.js';

/** Where a rank listens: the address table's entry for it. */
export interface Endpoint {
  /** `ip:port` of each address it listens on (loopback, for ranks of its host, first). */
  addresses: string[];
  /** Its host's name, for messages. */
  host: string;
  /** Its host's index in the job (ranks of one node reach each other over loopback). */
  node: number;
  /** The largest message it accepts, bytes (0: unknown, this rank's own limit is assumed). */
  maxMessageBytes?: number;
}

/** How to build a rank's transport. */
export interface GrpcTransportOptions {
  jobId: string;
  rank: number;
  size: number;
  tls: TlsMaterial;
  /** IPv4 addresses to listen on (see addresses.ts), e.g. `['127.0.0.1']`; each port is chosen by the OS. */
  listen: readonly string[];
  /** This rank's node (host index), to tell peers of its own host from others. */
  node: number;
  /**
   * Called when a connection is refused for a security reason;
   * `unauthenticated`: it closed before authenticating (which a peer that dies
   * during its handshake does too).
   */
  onSecurityEvent(peer: string, reason: string, unauthenticated: boolean): void;
  /** Called when a peer breaks the protocol or its limits and is refused. */
  onProtocolEvent(peer: string, reason: string): void;
  /** Limits before trust, ms and connections (defaults: 10 s for TLS and the Hello, 64 connections waiting). */
  limits?: { helloDeadlineMs?: number; maxPendingConnections?: number };
}

type ServerCall = grpc.ServerDuplexStream<Buffer, Buffer>;
type ClientCall = grpc.ClientDuplexStream<Buffer, Buffer>;

const IDENTITY_MARK = 'tsmpi identity check';
/** Payloads up to this size travel inside the envelope's gRPC message: one message, one copy of a few bytes. */
const INLINE_BYTES = 16 * 1024;
/** On gRPC, the largest message sent eagerly (at most TSMPI_EAGER_BYTES). */
const GRPC_EAGER_BYTES = 256 * 1024;
/** The largest gRPC message on a rank stream: a chunk, or an envelope with its inline payload (and room for the envelope). */
const MAX_FRAME_BYTES = Math.max(config.chunkBytes, INLINE_BYTES) + 4096;
/**
 * A gRPC message above this size that begins a message is the first chunk of
 * rendezvous data, sent without its envelope: no message that begins with an
 * envelope is larger (see InboundParser).
 */
const HEADLESS_BYTES = 64 * 1024;
/** Small messages queued behind one another go together in one gRPC message of at most this many bytes. */
const BATCH_BYTES = Math.min(HEADLESS_BYTES, MAX_FRAME_BYTES);
/** Time a connection to a rank has for TLS and its Hello. */
const HELLO_DEADLINE_MS = 10_000;
/** Most connections a rank's server holds that have not yet sent a valid Hello. */
const MAX_PENDING_CONNECTIONS = 64;
/** Starts the status details of a stream a rank closes because its peer broke the protocol. */
const REFUSED_MARK = 'tsmpi refused: ';
/** OpenSSL's words for a peer certificate that does not verify, as grpc-js passes them on in `details`. */
const TLS_VERIFY_FAILURE = /certificate|self-signed|unable to (verify|get)|CERT_|alert/i;

/** Channel options of a rank's client connections. */
function channelOptions(): grpc.ChannelOptions {
  return {
    // SNI name only: identity is checked from the certificate's SAN, never the host name.
    'grpc.ssl_target_name_override': 'tsmpi',
    'grpc-node.flow_control_window': config.flowControlWindow,
    'grpc.max_receive_message_length': MAX_FRAME_BYTES,
    'grpc.max_send_message_length': 64 * 1024,
    // A long backstop for a silent link, not the failure detector (the launcher's process
    // watch and the host agents' heartbeats are): a rank that computes for minutes without
    // yielding cannot answer pings, and must not be taken for dead.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 300_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.enable_retries': 0,
  };
}

/** A message waiting in a link's queue: settled once grpc-js has taken its last byte. */
interface Queued {
  frame: Frame;
  payload: Uint8Array;
  resolve(): void;
  reject(error: Error): void;
}

/** The sending side of a link to one peer: the peer's Attach stream on our server, and a write queue. */
class OutLink {
  call: ServerCall | undefined;
  failure: Error | undefined;
  seq = 0;
  /** Messages not yet handed over to grpc-js, in order (see GrpcTransport.#pump). */
  readonly queue: Queued[] = [];
  /** The pump is waiting (for the stream, for 'drain', or on a large message's hand-over): it resumes by itself. */
  busy = false;
  /** A batch of small messages is with grpc-js, not yet taken: small messages queued meanwhile go together after it. */
  batchInFlight = false;
  readonly #waiters: Array<{ resolve(call: ServerCall): void; reject(error: Error): void }> = [];
  readonly #idle: Array<() => void> = [];

  ready(timeoutMs: number, onTimeout: () => Error): Promise<ServerCall> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.call) return Promise.resolve(this.call);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(onTimeout());
      }, timeoutMs);
      const waiter = {
        resolve: (call: ServerCall) => {
          clearTimeout(timer);
          resolve(call);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  open(call: ServerCall): void {
    this.call = call;
    for (const w of this.#waiters.splice(0)) w.resolve(call);
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /** Nothing is queued or being handed over. */
  get quiet(): boolean {
    return this.queue.length === 0 && !this.busy;
  }

  /** Resolves once every queued message has been handed over (or failed). */
  idle(): Promise<void> {
    if (this.quiet) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Called by the pump when it stops. */
  stopped(): void {
    if (this.quiet) for (const resolve of this.#idle.splice(0)) resolve();
  }
}

/** A message whose chunks are arriving; `bytes` is allocated by its first chunk, unless it goes into a receive's buffer. */
interface Receiving {
  envelope: WireEnvelope;
  bytes: Uint8Array | undefined;
  filled: number;
}

/** Reassembles messages from one peer's stream: Envelope, then its chunks. @internal exported for tests. */
export class InboundParser {
  #expectedSeq = 0;
  /** The buffer of the rendezvous payload this rank asked the peer for with `rndvId`, if it did. */
  readonly #target: (rndvId: number) => Uint8Array | undefined;
  /** Takes the id of the rendezvous payload this rank asked the peer for next (CTS order), if any. */
  readonly #awaited: () => number | undefined;

  constructor(target: (rndvId: number) => Uint8Array | undefined, awaited: () => number | undefined) {
    this.#target = target;
    this.#awaited = awaited;
  }
  /** The message being received, if its chunks have begun. */
  #current: Receiving | undefined;

  /**
   * Feeds one gRPC message: the chunk of a message begun earlier; the first
   * chunk of rendezvous data, without an envelope (above HEADLESS_BYTES: the
   * sender sends the payloads this rank asked for in the order it asked, so
   * the next one due is known); or one or more whole messages, each an
   * envelope and its inline payload (the sender's batch), the last of which
   * may continue in chunks. Calls `deliver` with each message it completes,
   * in order. Throws on a protocol violation.
   */
  push(data: Buffer, deliver: (envelope: WireEnvelope, payload: Uint8Array) => void): void {
    if (this.#current === undefined && data.byteLength > HEADLESS_BYTES) this.#current = this.#headless(data.byteLength);
    if (this.#current !== undefined) {
      const done = this.#chunk(this.#current, data);
      if (done !== undefined) deliver(done.envelope, done.payload);
      return;
    }
    let rest: Uint8Array = data;
    do {
      const { envelope, inline } = decodeDue(rest, this.#expectedSeq);
      this.#expectedSeq++;
      if (envelope.rndv === Rendezvous.DATA) {
        const due = this.#awaited();
        if (due === undefined) throw new TransportError(`it sent data for rendezvous ${envelope.rndvId}, which this rank did not ask for`);
        if (due !== envelope.rndvId) throw new TransportError(`it sent data for rendezvous ${envelope.rndvId} where ${due} was due`);
      }
      // Nothing is allocated from what the peer announces before this says it is acceptable.
      const target = envelope.rndv === Rendezvous.DATA ? this.#target(envelope.rndvId) : undefined;
      const wrong = frameProblem(envelope, target);
      if (wrong !== undefined) throw new TransportError(`it sent ${wrong}`);
      // An RTS announces payloadBytes; none follow it.
      const follows = envelope.rndv === Rendezvous.RTS ? 0 : envelope.payloadBytes;
      if (inline.byteLength < follows) {
        // A payload is inline whole, or follows in chunks after an envelope that ends the gRPC message.
        if (inline.byteLength > 0) throw new TransportError('it sent a message whose inline payload is cut short');
        this.#current = { envelope, bytes: target, filled: 0 };
        return;
      }
      const own = inline.subarray(0, follows);
      rest = inline.subarray(follows);
      if (target === undefined) {
        deliver(envelope, Uint8Array.prototype.slice.call(own)); // a copy of exactly its bytes, owned by the receiver
      } else {
        target.set(own);
        deliver(envelope, target);
      }
    } while (rest.byteLength > 0);
  }

  /** Rendezvous data that came without its envelope: it is the payload due next, which goes into the receive's buffer. */
  #headless(chunkBytes: number): Receiving {
    const id = this.#awaited();
    const target = id === undefined ? undefined : this.#target(id);
    if (id === undefined || target === undefined) throw new TransportError(`it sent a ${chunkBytes}-byte chunk where a message was due`);
    return {
      // Fields in decodeEnvelope's order: one shape for every envelope the parser hands on.
      envelope: { context: 0, tag: 0, kind: 0, datatype: 0, count: 0, coll: undefined, rndv: Rendezvous.DATA, rndvId: id, payloadBytes: target.byteLength, seq: -1 },
      bytes: target,
      filled: 0,
    };
  }

  /** One chunk of the message being received; returns the message once it is whole. */
  #chunk(current: Receiving, data: Buffer): { envelope: WireEnvelope; payload: Uint8Array } | undefined {
    const total = current.envelope.payloadBytes;
    if (current.filled + data.byteLength > total) throw new TransportError('it sent a chunk that overruns its message');
    // A message that is one chunk is that chunk: grpc-js hands over each
    // message in a buffer of its own (larger than its pool's slabs), so the
    // payload is adopted without a copy. Otherwise chunks are assembled, into
    // the receive's own buffer for rendezvous data.
    if (current.bytes === undefined && data.byteLength === total) {
      this.#current = undefined;
      return { envelope: current.envelope, payload: data };
    }
    current.bytes ??= new Uint8Array(Buffer.allocUnsafeSlow(total).buffer, 0, total);
    current.bytes.set(data, current.filled);
    current.filled += data.byteLength;
    if (current.filled < total) return undefined;
    this.#current = undefined;
    return { envelope: current.envelope, payload: current.bytes };
  }
}

/** A rank's gRPC transport. Create with {@link GrpcTransport.start}. */
export class GrpcTransport implements Link, Peers {
  readonly rank: number;
  readonly size: number;
  readonly #options: GrpcTransportOptions;
  readonly #server: grpc.Server;
  #injector: grpc.ConnectionInjector | undefined;
  #listener: GuardedListener | undefined;
  #handler: FrameHandler | undefined;
  #peers: readonly Endpoint[] = [];
  readonly #out = new Map<number, OutLink>();
  readonly #dialled = new Map<number, { client: grpc.Client; call: ClientCall }>();
  readonly #serverCalls = new Set<ServerCall>();
  /** Peers that attached before the address table arrived: to be dialled back once it does. */
  readonly #awaitingTable: number[] = [];
  readonly #failures = new Map<number, Error>();
  /** The rendezvous ids this rank asked each peer for (CTS queued), in order: the order their payloads come in. */
  readonly #awaitedData = new Map<number, number[]>();
  /** finalize() has begun: this rank sends nothing more, and its data streams have ended. */
  #quiescing = false;
  #closing = false;

  private constructor(options: GrpcTransportOptions, server: grpc.Server) {
    this.#options = options;
    this.rank = options.rank;
    this.size = options.size;
    this.#server = server;
  }

  /** `ip:port` of each address this rank's server listens on. */
  get addresses(): readonly string[] {
    return this.#listener?.addresses ?? [];
  }

  /** Starts this rank's server on each address of `listen`, ports chosen by the OS. */
  static async start(options: GrpcTransportOptions): Promise<GrpcTransport> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 64 * 1024,
      'grpc.max_send_message_length': MAX_FRAME_BYTES,
      'grpc.max_concurrent_streams': Math.max(16, options.size * 2),
      'grpc.keepalive_permit_without_calls': 1,
    });
    const transport = new GrpcTransport(options, server);
    server.addService(rankServiceDefinition, { attach: (call: ServerCall) => transport.#accept(call) });
    // We own the listening sockets and hand each TCP connection to grpc-js,
    // which does the TLS handshake: a connection must be a rank of this job
    // that has sent its Hello within the deadline (listener.ts).
    transport.#injector = server.createConnectionInjector(mutualTlsServerCredentials(options.tls));
    transport.#listener = new GuardedListener(transport.#injector, {
      deadlineMs: options.limits?.helloDeadlineMs ?? HELLO_DEADLINE_MS,
      maxPending: options.limits?.maxPendingConnections ?? MAX_PENDING_CONNECTIONS,
      report: (peer, reason) => transport.#report(peer, reason, true),
    });
    await transport.#listener.listen(options.listen);
    return transport;
  }

  /**
   * Installs the job's address table (indexed by rank). A faster rank may
   * dial this one before the table arrives here; dialling it back waits until now.
   */
  setPeers(peers: readonly Endpoint[]): void {
    this.#peers = peers;
    for (const peer of this.#awaitingTable.splice(0)) this.#dial(peer);
  }

  setFrameHandler(handler: FrameHandler): void {
    this.#handler = handler;
  }

  hostOf(rank: number): string {
    return this.#peers[rank]?.host ?? 'unknown host';
  }

  nodeOf(rank: number): number {
    return this.#peers[rank]?.node ?? -1;
  }

  maxMessageBytesOf(rank: number): number {
    return this.#peers[rank]?.maxMessageBytes || config.maxMessageBytes;
  }

  #report(peer: string, reason: string, unauthenticated = false): void {
    debug('transport', `security: refused ${peer}: ${reason}`, 'refused', { peer, reason });
    this.#options.onSecurityEvent(peer, reason, unauthenticated);
  }

  // -- serving side: accepting a peer's Attach stream ---------------------

  #accept(call: ServerCall): void {
    const peerAddress = call.getPeer();
    const refuse = (reason: string): void => {
      this.#listener?.authenticated(peerAddress); // refused here, and reported here
      this.#report(peerAddress, reason);
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: reason });
    };
    const identity = parseIdentity(call.getAuthContext()?.sslPeerCertificate?.subjectaltname);
    const problem = this.#checkPeer(identity);
    if (problem !== undefined || identity?.role !== 'rank') {
      refuse(problem ?? 'not a rank certificate');
      return;
    }
    const peer = identity.rank;
    call.once('data', (first: Buffer) => {
      let hello;
      try {
        hello = decodeHello(first);
      } catch {
        hello = undefined;
      }
      if (hello === undefined) return refuse(`rank ${peer} sent no Hello`);
      if (hello.jobId !== this.#options.jobId) return refuse(`rank ${peer} claims job ${hello.jobId}`);
      if (hello.rank !== peer) return refuse(`certificate of rank ${peer} claims to be rank ${hello.rank}`);
      if (hello.destRank !== this.rank) return refuse(`rank ${peer} meant to reach rank ${hello.destRank}`);
      this.#listener?.authenticated(peerAddress);
      if (this.#quiescing) {
        // This rank is finalizing: nothing more will come from it on this stream.
        call.end();
        return;
      }
      const link = this.#outLink(peer);
      if (link.call !== undefined) return refuse(`rank ${peer} is already attached`);
      this.#serverCalls.add(call);
      call.on('data', () => refuse(`rank ${peer} sent data on a control stream`));
      // Whether the peer died is told by the stream that carries its data to
      // us (or by the coordinator); losing this one only stops our sends.
      const stopSends = (reason: string): void =>
        link.fail(new PeerFailedError({ rank: peer, host: this.hostOf(peer), op: 'send', reason }));
      call.on('cancelled', () => stopSends('its connection was cancelled'));
      call.on('error', (error: Error) => stopSends(connectionFailure(error)));
      // The peer half-closed the stream it dialled: it is finalizing. Its
      // last messages may still be in flight on the other connection, so
      // this is not a failure; sends to it now fail.
      call.on('end', () => {
        call.end();
        stopSends('it finalized');
      });
      call.on('close', () => this.#serverCalls.delete(call));
      call.sendMetadata(new grpc.Metadata()); // tells the dialler the stream is accepted
      debug('transport', `rank ${peer} attached from ${peerAddress}`, 'attached', { peer, address: peerAddress });
      link.open(call);
      // Open our own receiving stream to the peer, if we have not yet.
      this.#dial(peer);
    });
  }

  /** Why a peer identity is unacceptable, or `undefined` when it is a rank of this job. */
  #checkPeer(identity: Identity | undefined): string | undefined {
    if (identity === undefined) return 'certificate names no tsmpi identity';
    if (identity.jobId !== this.#options.jobId) return `certificate of job ${identity.jobId}, not this job`;
    if (identity.role === 'rank' && identity.rank >= this.size) return `certificate names rank ${identity.rank} of a ${this.size}-rank job`;
    return undefined;
  }

  // -- dialling side: our receiving stream from a peer --------------------

  #dial(peer: number): void {
    if (this.#dialled.has(peer) || this.#closing) return;
    if (this.#peers.length === 0) {
      this.#awaitingTable.push(peer);
      return;
    }
    const endpoint = this.#peers[peer];
    const tried = endpoint === undefined ? [] : dialOrder(endpoint.addresses, endpoint.node === this.#options.node);
    if (endpoint === undefined || tried.length === 0) {
      this.#lost(peer, `none of its addresses (${endpoint?.addresses.join(', ') || 'none'}) can be reached from this host`);
      return;
    }
    const where = tried.join(' or ');
    const credentials = channelCredentials(this.#options.tls, (identity) => {
      if (identity?.role === 'rank' && identity.jobId === this.#options.jobId && identity.rank === peer) return undefined;
      const reason = `${IDENTITY_MARK}: ${where} should be rank ${peer} of job ${this.#options.jobId}, its certificate says ${
        identity === undefined ? 'nothing' : identity.role === 'rank' ? `rank ${identity.rank} of job ${identity.jobId}` : `${identity.role} of job ${identity.jobId}`
      }`;
      this.#report(where, reason);
      return reason;
    });
    // pick_first over the addresses in order: the first that connects carries the stream.
    const client = new grpc.Client(grpcTarget(tried), credentials, channelOptions());
    const call = client.makeBidiStreamRequest(ATTACH_PATH, passThrough, passThrough) as ClientCall;
    this.#dialled.set(peer, { client, call });
    // The peer's server sends its headers once it accepts the stream; until then, we are not connected.
    let connected = false;
    const unreachable = (why: string, cause?: unknown): void => {
      if (this.#failures.has(peer) || this.#closing) return;
      void probe(tried, Math.min(2000, config.connectTimeoutMs)).then((table) => {
        this.#lost(peer, `${why}; tried:\n${table}`, cause);
        call.cancel();
      });
    };
    const timer = setTimeout(() => connected || unreachable(`no connection to it within ${config.connectTimeoutMs} ms (TSMPI_CONNECT_TIMEOUT_MS)`), config.connectTimeoutMs);
    timer.unref();
    call.on('metadata', () => {
      connected = true;
      clearTimeout(timer);
    });
    call.on('status', () => clearTimeout(timer)); // accepted and ended at once (the peer is finalizing), or refused
    const parser = new InboundParser(
      (rndvId) => this.#handler?.dataTarget(peer, rndvId),
      () => this.#awaitedData.get(peer)?.shift(),
    );
    const deliver = (envelope: WireEnvelope, payload: Uint8Array): void => this.#deliver(peer, envelope, payload);
    call.on('data', (data: Buffer) => {
      try {
        parser.push(data, deliver);
      } catch (error) {
        this.#refuse(peer, error instanceof ProtocolError ? error.reason : (error as Error).message, error);
      }
    });
    call.on('error', (error: grpc.ServiceError) => {
      clearTimeout(timer);
      const details = error.details ?? '';
      if (details.startsWith(REFUSED_MARK)) {
        this.#lost(peer, `it refused this rank: ${details.slice(REFUSED_MARK.length)}`, error);
      } else if (details.includes(IDENTITY_MARK)) {
        const auth = new AuthenticationError(where, details.slice(details.indexOf(IDENTITY_MARK)), { cause: error });
        this.#lost(peer, auth.message, auth);
      } else if (TLS_VERIFY_FAILURE.test(details)) {
        const reason = `TLS verification failed: ${details}`;
        this.#report(where, reason);
        this.#lost(peer, reason, new AuthenticationError(where, reason, { cause: error }));
      } else {
        debug('transport', `connection to rank ${peer} at ${where} failed: ${error.details || error.message}`, 'dial-failed', { peer, address: where });
        if (connected) this.#lost(peer, connectionFailure(error), error);
        else unreachable('cannot connect to it', error);
      }
    });
    // The peer ended the stream that carries its messages to us: all of them have arrived.
    call.on('end', () => {
      if (!this.#closing && !this.#failures.has(peer)) this.#handler?.peerFinished(peer);
    });
    call.write(encodeHello({ jobId: this.#options.jobId, rank: this.rank, destRank: peer }));
    debug('transport', `dialled rank ${peer} at ${where}`, 'dialled', { peer, address: where });
  }

  /** A whole message from `peer`, by rendezvous phase. Throws on a protocol violation. */
  #deliver(peer: number, envelope: WireEnvelope, payload: Uint8Array): void {
    this.#handler?.frame(peer, envelope, payload);
  }

  // -- failure ------------------------------------------------------------

  /**
   * `peer` broke the protocol or its limits: reports it, tells the peer why
   * (on the stream that carries this rank's messages to it), and closes the
   * link both ways; waits on the peer fail with PeerFailedError.
   */
  #refuse(peer: number, reason: string, cause?: unknown): void {
    if (this.#closing || this.#failures.has(peer)) return;
    this.#options.onProtocolEvent(`rank ${peer}`, reason);
    this.#out.get(peer)?.call?.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `${REFUSED_MARK}${reason}` });
    this.#lost(peer, `refused: ${reason}`, cause);
    this.#dialled.get(peer)?.call.cancel();
  }

  #lost(peer: number, reason: string, cause?: unknown): void {
    if (this.#closing || this.#failures.has(peer)) return;
    const error =
      cause instanceof AuthenticationError
        ? cause
        : new PeerFailedError({ rank: peer, host: this.hostOf(peer), op: 'link', reason }, { cause });
    this.#failures.set(peer, error);
    this.#awaitedData.delete(peer); // nothing more comes from it
    debug('transport', `lost rank ${peer}: ${reason}`, 'lost', { peer, reason });
    this.#outLink(peer).fail(error);
    this.#handler?.peerFailed(
      peer,
      error instanceof PeerFailedError ? error : new PeerFailedError({ rank: peer, host: this.hostOf(peer), op: 'link', reason }, { cause: error }),
    );
  }

  /** Called by the runtime when the coordinator reports a dead rank. */
  peerDied(peer: number, reason: string): void {
    this.#lost(peer, reason);
  }

  // -- sending ------------------------------------------------------------

  #outLink(peer: number): OutLink {
    let link = this.#out.get(peer);
    if (link === undefined) {
      link = new OutLink();
      this.#out.set(peer, link);
    }
    return link;
  }

  /**
   * Messages above 256 KiB go by rendezvous on gRPC whatever a larger
   * `TSMPI_EAGER_BYTES` says: their data then lands in the receive buffer
   * instead of a buffer of its own and a copy (osu.ts p2p, 1 MiB: 0.77 -> 1.16 GB/s).
   */
  eagerLimit(): number {
    return Math.min(config.eagerBytes, GRPC_EAGER_BYTES);
  }

  sendFrame(dest: number, frame: Frame, payload: Uint8Array): Promise<void> {
    const link = this.#outLink(dest);
    if (link.call === undefined && link.failure === undefined) this.#dial(dest);
    return this.#enqueue(dest, frame, payload);
  }

  /**
   * Queues one message for grpc-js; resolves when grpc-js has taken its last
   * byte (the payload may then be reused). The link's pump hands messages
   * over in order, many in flight on the stream at once.
   */
  #enqueue(dest: number, frame: Frame, payload: Uint8Array): Promise<void> {
    const link = this.#outLink(dest);
    if (link.failure !== undefined) return Promise.reject(link.failure);
    if (frame.rndv === Rendezvous.CTS) {
      let awaited = this.#awaitedData.get(dest);
      if (awaited === undefined) this.#awaitedData.set(dest, (awaited = []));
      awaited.push(frame.rndvId);
    }
    const sent = new Promise<void>((resolve, reject) => link.queue.push({ frame, payload, resolve, reject }));
    this.#pump(dest, link);
    return sent;
  }

  /**
   * Hands a link's queued messages to grpc-js, in order. A large message
   * goes as its envelope and chunks (writeMessage). Small ones (envelope and
   * inline payload) that queue up behind one another — the RTS of a window
   * of sends, the CTS for them, a burst of eager messages — go together in
   * one gRPC message of up to BATCH_BYTES: grpc-js's cost is per message, on
   * both sides (a window's 64 RTSs, one by one, took 3 ms of 'drain' waits
   * before its first DATA could go). A small message never waits for company: when nothing is with grpc-js it
   * goes at once, and what queues while a batch is with grpc-js goes when
   * grpc-js has taken that batch, so latency is not traded for it.
   */
  #pump(dest: number, link: OutLink): void {
    if (link.busy) return;
    const fail = (error: Error): void => {
      for (const queued of link.queue.splice(0)) queued.reject(error);
      link.busy = false;
      link.stopped();
    };
    if (link.call === undefined) {
      if (link.failure !== undefined) return fail(link.failure);
      link.busy = true;
      link
        .ready(
          config.connectTimeoutMs,
          () =>
            new PeerFailedError({
              rank: dest,
              host: this.hostOf(dest),
              op: 'send',
              reason: `no connection from it within ${config.connectTimeoutMs} ms (TSMPI_CONNECT_TIMEOUT_MS)`,
            }),
        )
        .then(
          () => {
            link.busy = false;
            this.#pump(dest, link);
          },
          fail,
        );
      return;
    }
    const call = link.call;
    while (link.queue.length > 0) {
      if (link.failure !== undefined) return fail(link.failure);
      const head = link.queue[0] as Queued;
      if (head.payload.byteLength > INLINE_BYTES) {
        link.queue.shift();
        link.busy = true;
        // Rendezvous data whose first chunk is larger than any envelope-led message goes without its envelope.
        const headless = head.frame.rndv === Rendezvous.DATA && Math.min(config.chunkBytes, head.payload.byteLength) > HEADLESS_BYTES;
        const envelope = headless ? undefined : encodeEnvelope(head.frame, link.seq++);
        writeMessage(call, envelope, head.payload, config.chunkBytes, () => link.failure).then(
          ({ consumed }) => {
            consumed.then(head.resolve, head.reject);
            link.busy = false;
            this.#pump(dest, link);
          },
          (error: Error) => {
            head.reject(error);
            fail(error);
          },
        );
        return;
      }
      if (link.batchInFlight) break; // gathers behind the batch grpc-js has not yet taken
      const batch: Queued[] = [];
      const headers: Buffer[] = [];
      let bytes = 0;
      for (let next = link.queue[0]; next !== undefined && next.payload.byteLength <= INLINE_BYTES; next = link.queue[0]) {
        const header = encodeEnvelope(next.frame, link.seq);
        const size = header.byteLength + next.payload.byteLength;
        if (batch.length > 0 && bytes + size > BATCH_BYTES) break;
        link.seq++;
        link.queue.shift();
        batch.push(next);
        headers.push(header);
        bytes += size;
      }
      link.batchInFlight = true;
      const flowing = call.write(joinBatch(headers, batch, bytes), (error?: Error | null) => {
        link.batchInFlight = false;
        const failure = error ? (link.failure ?? error) : undefined;
        for (const queued of batch) {
          if (failure) queued.reject(failure);
          else queued.resolve();
        }
        this.#pump(dest, link);
      });
      if (!flowing) {
        link.busy = true;
        drained(call, () => link.failure).then(() => {
          link.busy = false;
          this.#pump(dest, link);
        }, fail);
        return;
      }
    }
    link.stopped();
  }

  /**
   * Ends this rank's sending (finalize): waits until every queued message is
   * handed over and every rendezvous message has been fetched, then ends the
   * streams that carry this rank's messages, so that each peer learns, in
   * order after the last of them, that nothing more comes from this rank.
   */
  async quiesce(): Promise<void> {
    const links = (): OutLink[] => [...this.#out.values()];
    while (links().some((link) => !link.quiet)) await Promise.all(links().map((link) => link.idle()));
    this.#quiescing = true;
    for (const call of this.#serverCalls) call.end();
  }

  /**
   * The coordinator says `peer` has begun finalize. Its messages to this rank
   * travel on the stream this rank dialled, which it ends after the last one;
   * without such a stream nothing from it can still arrive.
   */
  peerFinalizing(peer: number): void {
    if (!this.#dialled.has(peer) && !this.#failures.has(peer) && !this.#closing) this.#handler?.peerFinished(peer);
  }

  async close(): Promise<void> {
    // Let queued sends finish before the streams end.
    await Promise.all([...this.#out.values()].map((link) => link.idle()));
    this.#closing = true;
    for (const call of this.#serverCalls) call.end();
    for (const { call } of this.#dialled.values()) call.end();
    this.#listener?.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 5000);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.#injector?.destroy();
    for (const { client } of this.#dialled.values()) client.close();
  }
}

/**
 * What a plain TCP connection to each endpoint gives, for the message of a
 * peer that cannot be reached: one `  ip:port  result` line each.
 */
async function probe(endpoints: readonly string[], timeoutMs: number): Promise<string> {
  const results = await Promise.all(
    endpoints.map(async (endpoint) => {
      const why = await tcpReach(hostOf(endpoint), Number(endpoint.slice(endpoint.lastIndexOf(':') + 1)), timeoutMs);
      return why ?? 'TCP connects, but the rank did not accept the stream (TLS, or the peer is not serving)';
    }),
  );
  return endpoints.map((endpoint, i) => `  ${endpoint.padEnd(22)} ${results[i]}`).join('\n');
}

/** Why a connection failed, in plain words; grpc-js's own text goes to `TSMPI_DEBUG=transport` only. */
function connectionFailure(error: Error & { details?: string }): string {
  const text = `${error.details ?? ''} ${error.message}`;
  const code = /\b(E[A-Z]{3,})\b/.exec(text)?.[1];
  if (code !== undefined) return SOCKET_ERRORS[code] ?? `connection failed (${code})`;
  if (/dropped|GOAWAY|closed/i.test(text)) return 'connection dropped';
  if (/cancel/i.test(text)) return 'connection cancelled';
  return 'connection failed';
}



/**
 * Hands an encoded envelope and its large payload to grpc-js, honouring
 * backpressure: the envelope (unless `undefined`: headless rendezvous data),
 * then the payload as chunks that are views of the caller's memory. Resolves once everything is handed over;
 * `consumed` settles when grpc-js has taken the last byte (the payload may
 * then be reused). (Wrapped in an object: an async function cannot return a
 * pending promise without waiting for it.)
 */
async function writeMessage(
  call: ServerCall,
  envelope: Buffer | undefined,
  payload: Uint8Array,
  chunkBytes: number,
  failure: () => Error | undefined,
): Promise<{ consumed: Promise<void> }> {
  const pieces: Buffer[] = envelope === undefined ? [] : [envelope];
  for (let offset = 0; offset < payload.byteLength; offset += chunkBytes) {
    const end = Math.min(offset + chunkBytes, payload.byteLength);
    pieces.push(Buffer.from(payload.buffer, payload.byteOffset + offset, end - offset));
  }
  for (let i = 0; i < pieces.length - 1; i++) {
    const broken = failure();
    if (broken) throw broken;
    if (!call.write(pieces[i] as Buffer)) await drained(call, failure);
  }
  const broken = failure();
  if (broken) throw broken;
  let flowing = true;
  const done = new Promise<void>((resolve, reject) => {
    flowing = call.write(pieces[pieces.length - 1] as Buffer, (error?: Error | null) => (error ? reject(failure() ?? error) : resolve()));
  });
  done.catch(() => undefined);
  if (!flowing) await drained(call, failure);
  return { consumed: done };
}

/**
 * One gRPC message of a batch: each envelope followed by its inline payload,
 * `bytes` in all; each payload is copied once. A lone envelope without a
 * payload (an RTS, a CTS) goes as it is.
 */
function joinBatch(headers: readonly Buffer[], batch: readonly Queued[], bytes: number): Buffer {
  const first = headers[0] as Buffer;
  if (headers.length === 1 && first.byteLength === bytes) return first;
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i] as Buffer;
    const payload = (batch[i] as Queued).payload;
    out.set(header, at);
    out.set(payload, at + header.byteLength);
    at += header.byteLength + payload.byteLength;
  }
  return out;
}

function drained(call: ServerCall, failure: () => Error | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      call.off('drain', onDrain);
      call.off('close', onClose);
    };
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onClose = (): void => {
      done();
      reject(failure() ?? new TransportError('stream closed while sending'));
    };
    call.on('drain', onDrain);
    call.on('close', onClose);
  });
}
