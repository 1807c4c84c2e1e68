/**
 * The transport contract. Everything above it (matching, collectives) sees
 * only this; the gRPC transport and the in-memory transport implement it.
 */
import type { PeerFailedError } from '../errors.js';

/** Identifies the collective call a message belongs to (see `collectives/signature.ts`). */
export interface CollSignature {
  kind: number;
  root: number;
  count: number;
  datatype: number;
  op: number;
  alg: number;
}

/** The header of one message. The source is never in it: it is the authenticated peer. */
export interface Envelope {
  /** Communicator context id. */
  context: number;
  /** Message tag, >= 0. */
  tag: number;
  /** A `PayloadKind` number. */
  kind: number;
  /** A `Datatype` number. */
  datatype: number;
  /** Element count. */
  count: number;
  /** Set on collective messages only. */
  coll?: CollSignature | undefined;
}

/**
 * The payload of a message sent by rendezvous: only its size has arrived.
 * `fetch()` (once, when a receive matches) asks the sender for the bytes and
 * resolves to them; it rejects with `PeerFailedError` if the sender dies first.
 */
export interface RendezvousPayload {
  readonly byteLength: number;
  fetch(): Promise<Uint8Array>;
}

/** A delivered payload: its bytes (exclusively the receiver's), or a rendezvous to fetch them. */
export type Payload = Uint8Array | RendezvousPayload;

/** Receives what a transport delivers. Set once, before the first message can arrive. */
export interface TransportHandler {
  /** A message from `source`. Called in arrival order per source. */
  message(source: number, envelope: Envelope, payload: Payload): void;
  /** `rank` died or its link broke; pending and future operations on it must fail. */
  peerFailed(rank: number, error: PeerFailedError): void;
  /**
   * `rank` closed its stream in order (it finalized): nothing more will come
   * from it. Waits for a message from exactly that rank must fail; waits on
   * `ANY_SOURCE` may still be satisfied by others.
   */
  peerFinished(rank: number): void;
}

/** A rank's connection to the other ranks of its job. */
export interface Transport {
  readonly rank: number;
  readonly size: number;
  /** Installs the upward handler. */
  setHandler(handler: TransportHandler): void;
  /**
   * Sends one message to `dest` (never this rank). Messages to one
   * destination arrive in the order of the calls. Resolves when `payload` may
   * be reused; rejects with `PeerFailedError` or `AuthenticationError`.
   */
  send(dest: number, envelope: Envelope, payload: Uint8Array): Promise<void>;
  /** The host of `rank`, as the job names it. */
  hostOf(rank: number): string;
  /** The index of the host of `rank` in the job: ranks with the same node share a host. */
  nodeOf(rank: number): number;
  /** The largest message `rank` accepts, bytes (its `TSMPI_MAX_MESSAGE_BYTES`). */
  maxMessageBytesOf(rank: number): number;
  /** Closes every connection after flushing what was sent. */
  close(): Promise<void>;
}
