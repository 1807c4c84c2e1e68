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
 * resolves to them, written into `into` when given (exactly `byteLength`
 * bytes: the receive's own buffer, so that they are copied once); it rejects
 * with `PeerFailedError` if the sender dies first.
 */
export interface RendezvousPayload {
  readonly byteLength: number;
  fetch(into?: Uint8Array): Promise<Uint8Array>;
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

/** A message on a link: its header, its rendezvous phase and id, and the size of its payload. */
export interface Frame extends Envelope {
  /** A `Rendezvous` phase: EAGER, RTS, CTS or DATA. */
  rndv: number;
  rndvId: number;
  /** Bytes of the payload: that follow (EAGER, DATA) or that are announced (RTS). */
  payloadBytes: number;
}

/** The header of a frame that carries no message of its own (a CTS). */
export const NO_MESSAGE: Envelope = { context: 0, tag: 0, kind: 0, datatype: 0, count: 0, coll: undefined };

/**
 * The frame of `envelope` in rendezvous phase `rndv` (a `Rendezvous` number)
 * for rendezvous `rndvId`, with `payloadBytes` bytes that follow (EAGER, DATA)
 * or are announced (RTS). Written out field by field, so that every frame has
 * one shape: a spread (`{ ...envelope, rndv }`) took V8's slow path for each
 * added property, about an eighth of a rank's CPU in an 8-byte ping-pong.
 */
export function frameOf(envelope: Envelope, rndv: number, rndvId: number, payloadBytes: number): Frame {
  const { context, tag, kind, datatype, count, coll } = envelope;
  return { context, tag, kind, datatype, count, coll, rndv, rndvId, payloadBytes };
}

/** What a link delivers upward: to the rendezvous layer (p2p/rendezvous.ts). */
export interface FrameHandler {
  /** A frame from `source`, in order. Throws a `ProtocolError` for a frame that breaks the protocol (the link then refuses the peer). */
  frame(source: number, frame: Frame, payload: Uint8Array): void;
  /** The buffer a DATA frame of rendezvous `rndvId` from `source` goes into, if this rank asked for it (exactly its announced size). */
  dataTarget(source: number, rndvId: number): Uint8Array | undefined;
  peerFailed(rank: number, error: PeerFailedError): void;
  peerFinished(rank: number): void;
}

/**
 * A link: frames to and from the peers it reaches (gRPC over mutual TLS for
 * any peer, shared memory for the ranks of this host), in order per peer.
 * The rendezvous protocol is above it, shared by every link.
 */
export interface Link {
  setFrameHandler(handler: FrameHandler): void;
  /** Sends one frame (with `payload`, which may be empty) to `dest`, in order; resolves when `payload` may be reused. */
  sendFrame(dest: number, frame: Frame, payload: Uint8Array): Promise<void>;
  /**
   * The largest payload (bytes) to send to `dest` eagerly; larger ones go by
   * rendezvous. At most `TSMPI_EAGER_BYTES`, which is the default.
   */
  eagerLimit?(dest: number): number;
  /** Hands over what is queued, then ends this rank's sending (finalize): each peer learns, in order, that nothing more comes. */
  quiesce(): Promise<void>;
  /** `rank` died (the coordinator says): frames to and from it fail. */
  peerDied(rank: number, reason: string): void;
  /** `rank` has begun finalize: where this link has no stream from it, nothing more can come. */
  peerFinalizing(rank: number): void;
  close(): Promise<void>;
}
