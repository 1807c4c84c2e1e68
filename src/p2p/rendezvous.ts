/**
 * The eager/rendezvous protocol, above every link (gRPC, shared memory), as
 * the Transport the matching engine sees (ARCHITECTURE.md: the protocol is
 * shared by the transports).
 *
 * Messages up to `TSMPI_EAGER_BYTES` go at once (EAGER). Larger ones are
 * announced (RTS: header and size only); when a receive matches, the receiver
 * asks for the payload (CTS), and the sender sends it (DATA), which the link
 * writes into the receive's buffer. So a receiver never holds the payload of
 * a message nobody asked for, and `send` of a large message resolves once a
 * receive has matched it (standard-mode MPI).
 *
 * Each peer is reached by one link for the whole job (`route`): the frames to
 * a peer never change path, so they stay in order.
 */
import { config } from '../config.js';
import { PeerFailedError, ProtocolError, TransportError } from '../errors.js';
import { frameOf, NO_MESSAGE, type Envelope, type Frame, type FrameHandler, type Link, type RendezvousPayload, type Transport, type TransportHandler } from '../transport/transport.js';
import { Rendezvous } from '../transport/wire.js';

/** What the messenger needs to know of the job. */
export interface Peers {
  hostOf(rank: number): string;
  nodeOf(rank: number): number;
  maxMessageBytesOf(rank: number): number;
}

interface OutgoingRendezvous {
  dest: number;
  envelope: Envelope;
  payload: Uint8Array;
  sent: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/** A send in progress, as reports show it. */
interface SendInProgress {
  dest: number;
  bytes: number;
  /** When it began, ms since the epoch. */
  since: number;
  rendezvous: boolean;
}

interface Fetch {
  byteLength: number;
  /** Where the payload goes. */
  into: Uint8Array;
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

const EMPTY = new Uint8Array(0);

export class Messenger implements Transport, FrameHandler {
  readonly rank: number;
  readonly size: number;
  readonly #links: readonly Link[];
  readonly #route: (dest: number) => Link;
  readonly #peers: Peers;
  #handler: TransportHandler | undefined;
  /** Rendezvous messages announced whose payload the receiver has not yet asked for, by peer, then id. */
  readonly #outgoing = new Map<number, Map<number, OutgoingRendezvous>>();
  readonly #nextId = new Map<number, number>();
  /** Rendezvous payloads this rank asked for (CTS sent), by peer, then id. */
  readonly #fetches = new Map<number, Map<number, Fetch>>();
  readonly #failures = new Map<number, PeerFailedError>();
  readonly #peerLost: Array<(rank: number) => void> = [];
  /**
   * Sends in progress, for reports: slots reused through `#freeSlots` (a Set
   * that empties and fills again on every send reallocates its table each time).
   */
  readonly #sending: Array<SendInProgress | undefined> = [];
  readonly #freeSlots: number[] = [];
  #closing = false;

  /** `route(dest)` is the link that reaches `dest`, for the whole job. */
  constructor(rank: number, size: number, links: readonly Link[], route: (dest: number) => Link, peers: Peers) {
    this.rank = rank;
    this.size = size;
    this.#links = links;
    this.#route = route;
    this.#peers = peers;
    for (const link of links) link.setFrameHandler(this);
  }

  setHandler(handler: TransportHandler): void {
    this.#handler = handler;
  }

  hostOf(rank: number): string {
    return this.#peers.hostOf(rank);
  }

  nodeOf(rank: number): number {
    return this.#peers.nodeOf(rank);
  }

  maxMessageBytesOf(rank: number): number {
    return this.#peers.maxMessageBytesOf(rank);
  }

  // -- sending ------------------------------------------------------------

  send(dest: number, envelope: Envelope, payload: Uint8Array): Promise<void> {
    const link = this.#route(dest);
    const rendezvous = payload.byteLength > (link.eagerLimit?.(dest) ?? config.eagerBytes);
    const slot = this.#freeSlots.pop() ?? this.#sending.length;
    this.#sending[slot] = { dest, bytes: payload.byteLength, since: Date.now(), rendezvous };
    const sent = rendezvous ? this.#announce(dest, envelope, payload) : link.sendFrame(dest, frameOf(envelope, Rendezvous.EAGER, 0, payload.byteLength), payload);
    const done = (): void => {
      this.#sending[slot] = undefined;
      this.#freeSlots.push(slot);
    };
    sent.then(done, done);
    return sent;
  }

  /** The sends in progress, for reports of what a rank is blocked in. */
  pendingSends(): Array<{ dest: number; bytes: number; waitedMs: number; rendezvous: boolean }> {
    const now = Date.now();
    const sends: Array<{ dest: number; bytes: number; waitedMs: number; rendezvous: boolean }> = [];
    for (const entry of this.#sending) if (entry !== undefined) sends.push({ dest: entry.dest, bytes: entry.bytes, waitedMs: now - entry.since, rendezvous: entry.rendezvous });
    return sends.sort((a, b) => b.waitedMs - a.waitedMs); // oldest first, as they began
  }

  /** Rendezvous: announce the message (RTS); its payload goes when the receiver asks (CTS). */
  #announce(dest: number, envelope: Envelope, payload: Uint8Array): Promise<void> {
    const failure = this.#failures.get(dest);
    if (failure !== undefined) return Promise.reject(failure);
    const id = this.#nextId.get(dest) ?? 0;
    this.#nextId.set(dest, id + 1);
    let settle!: { resolve(): void; reject(error: Error): void };
    const sent = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    sent.catch(() => undefined);
    let outgoing = this.#outgoing.get(dest);
    if (outgoing === undefined) this.#outgoing.set(dest, (outgoing = new Map()));
    outgoing.set(id, { dest, envelope, payload, sent, ...settle });
    this.#route(dest)
      .sendFrame(dest, frameOf(envelope, Rendezvous.RTS, id, payload.byteLength), EMPTY)
      .catch((error: unknown) => this.#settleOutgoing(dest, id, error as Error));
    return sent;
  }

  #settleOutgoing(dest: number, id: number, error: Error): void {
    const pending = this.#outgoing.get(dest)?.get(id);
    if (pending === undefined) return;
    this.#outgoing.get(dest)?.delete(id);
    pending.reject(error);
  }

  /** The receiver asked for the payload of rendezvous `id` (once): send it (DATA). */
  #clearToSend(peer: number, id: number): void {
    const pending = this.#outgoing.get(peer)?.get(id);
    if (pending === undefined) throw new ProtocolError(peer, `it asked for an unknown rendezvous ${id}`);
    this.#outgoing.get(peer)?.delete(id); // from here the DATA hand-over settles it, failures included
    this.#route(peer)
      .sendFrame(peer, frameOf(pending.envelope, Rendezvous.DATA, id, pending.payload.byteLength), pending.payload)
      .then(pending.resolve, pending.reject);
  }

  // -- receiving ----------------------------------------------------------

  frame(source: number, frame: Frame, payload: Uint8Array): void {
    const { context, tag, kind, datatype, count, coll } = frame;
    const header: Envelope = { context, tag, kind, datatype, count, coll };
    switch (frame.rndv) {
      case Rendezvous.EAGER:
        return this.#handler?.message(source, header, payload);
      case Rendezvous.RTS:
        return this.#handler?.message(source, header, this.#deferred(source, frame.rndvId, frame.payloadBytes));
      case Rendezvous.CTS:
        return this.#clearToSend(source, frame.rndvId);
      case Rendezvous.DATA:
        return this.#settleFetch(source, frame.rndvId, payload);
      default:
        throw new ProtocolError(source, `it sent an unknown rendezvous phase ${frame.rndv}`);
    }
  }

  dataTarget(source: number, rndvId: number): Uint8Array | undefined {
    return this.#fetches.get(source)?.get(rndvId)?.into;
  }

  /** A rendezvous payload from `peer`: `fetch()` sends CTS and resolves when DATA has arrived. */
  #deferred(peer: number, id: number, byteLength: number): RendezvousPayload {
    let fetched: Promise<Uint8Array> | undefined;
    return {
      byteLength,
      fetch: (into?: Uint8Array) => {
        fetched ??= new Promise<Uint8Array>((resolve, reject) => {
          const failure = this.#failures.get(peer);
          if (failure !== undefined) return reject(failure);
          if (into !== undefined && into.byteLength !== byteLength) return reject(new TransportError(`a ${into.byteLength}-byte buffer for a ${byteLength}-byte message`));
          let fetches = this.#fetches.get(peer);
          if (fetches === undefined) this.#fetches.set(peer, (fetches = new Map()));
          fetches.set(id, { byteLength, into: into ?? new Uint8Array(Buffer.allocUnsafeSlow(byteLength).buffer, 0, byteLength), resolve, reject });
          this.#route(peer)
            .sendFrame(peer, frameOf(NO_MESSAGE, Rendezvous.CTS, id, 0), EMPTY)
            .catch((error: unknown) => this.#settleFetch(peer, id, error as Error));
        });
        return fetched;
      },
    };
  }

  #settleFetch(peer: number, id: number, result: Uint8Array | Error): void {
    const pending = this.#fetches.get(peer)?.get(id);
    if (pending === undefined) {
      if (result instanceof Uint8Array) throw new ProtocolError(peer, `it sent data for rendezvous ${id}, which this rank did not ask for`);
      return;
    }
    this.#fetches.get(peer)?.delete(id);
    if (result instanceof Error) pending.reject(result);
    else if (result.byteLength !== pending.byteLength) pending.reject(new ProtocolError(peer, `it sent ${result.byteLength} bytes for rendezvous ${id}, which announced ${pending.byteLength}`));
    else pending.resolve(result);
  }

  // -- failure and the end ---------------------------------------------------

  peerFailed(rank: number, error: PeerFailedError): void {
    if (this.#closing || this.#failures.has(rank)) return;
    this.#failures.set(rank, error);
    for (const id of [...(this.#outgoing.get(rank)?.keys() ?? [])]) this.#settleOutgoing(rank, id, error);
    const fetchFailure = new PeerFailedError({ rank, host: error.host, op: 'recv', reason: error.reason }, { cause: error });
    for (const id of [...(this.#fetches.get(rank)?.keys() ?? [])]) this.#settleFetch(rank, id, fetchFailure);
    for (const listener of this.#peerLost) listener(rank);
    this.#handler?.peerFailed(rank, error);
  }

  /** Calls `listener` with each peer found dead (by a link, or as the coordinator says), before the waits on it fail. */
  onPeerLost(listener: (rank: number) => void): void {
    this.#peerLost.push(listener);
  }

  peerFinished(rank: number): void {
    if (!this.#closing && !this.#failures.has(rank)) this.#handler?.peerFinished(rank);
  }

  /** The coordinator reports a dead rank. */
  peerDied(rank: number, reason: string): void {
    for (const link of this.#links) link.peerDied(rank, reason);
    this.peerFailed(rank, new PeerFailedError({ rank, host: this.hostOf(rank), op: 'link', reason }));
  }

  /** The coordinator says `rank` has begun finalize. */
  peerFinalizing(rank: number): void {
    this.#route(rank).peerFinalizing(rank);
  }

  /**
   * Ends this rank's sending (finalize): waits until every rendezvous message
   * has been fetched, then has every link hand over what is queued and end.
   */
  async quiesce(): Promise<void> {
    const outgoing = (): OutgoingRendezvous[] => [...this.#outgoing.values()].flatMap((m) => [...m.values()]);
    for (let waiting = outgoing(); waiting.length > 0; waiting = outgoing()) await Promise.all(waiting.map((o) => o.sent.catch(() => undefined)));
    await Promise.all(this.#links.map((link) => link.quiesce()));
  }

  async close(): Promise<void> {
    this.#closing = true;
    const closed = new TransportError('the transport closed (finalize) before this rendezvous completed');
    for (const [dest, outgoing] of this.#outgoing) for (const id of [...outgoing.keys()]) this.#settleOutgoing(dest, id, closed);
    for (const [peer, fetches] of this.#fetches) for (const id of [...fetches.keys()]) this.#settleFetch(peer, id, closed);
    await Promise.all(this.#links.map((link) => link.close()));
  }
}
