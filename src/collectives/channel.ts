/**
 * What a collective algorithm sees of the world: its rank and the group size
 * in the communicator, and point-to-point sends and receives of encoded
 * payloads on a context and tag reserved for this one collective call.
 * Algorithms never see the transport.
 *
 * Every message carries the call's {@link Signature}; `recv` compares the
 * sender's with this rank's and raises {@link CollectiveMismatchError} on a
 * difference (after telling the peer, so that both ranks fail).
 */
import { isTypedArray, type TypedArray } from '../datatype.js';
import type { Engine } from '../p2p/engine.js';
import { decodePayload, encodePayload, type EncodedPayload } from '../p2p/payload.js';
import type { PayloadKind } from '../datatype.js';
import { CollectiveMismatchError, type Signature } from './signature.js';

/** Maps communicator ranks to transport (world) ranks. */
export interface Group {
  readonly size: number;
  /** Transport rank of communicator rank `rank`. */
  world(rank: number): number;
}

/** Hooks of the communicator's mismatch detection. */
export interface MismatchCheck {
  /** Compares a received signature with this call's; throws on a mismatch. */
  check(source: number, theirs: Signature | undefined): void;
  /** Waits for `source` with the watchdog armed; resolves to the message. */
  wait<T>(source: number, receive: Promise<T>): Promise<T>;
}

/** Point-to-point within one collective call. */
export class CollectiveChannel {
  readonly rank: number;
  readonly size: number;
  /** This rank's view of the call; non-roots may learn count and algorithm from the first message. */
  readonly sig: Signature;
  readonly #engine: Engine;
  readonly #group: Group;
  readonly #context: number;
  readonly #tag: number;
  readonly #mismatch: MismatchCheck;

  constructor(engine: Engine, group: Group, rank: number, context: number, tag: number, sig: Signature, mismatch: MismatchCheck) {
    this.#engine = engine;
    this.#group = group;
    this.rank = rank;
    this.size = group.size;
    this.#context = context;
    this.#tag = tag;
    this.sig = sig;
    this.#mismatch = mismatch;
  }

  /** Sends an encoded payload to communicator rank `dest`; resolves when its bytes may be reused. */
  send(dest: number, payload: EncodedPayload): Promise<unknown> {
    return this.#engine.send(this.#group.world(dest), this.#context, this.#tag, payload, this.sig);
  }

  /** Sends a value (TypedArrays as raw bytes, without a copy). */
  sendValue(dest: number, value: unknown): Promise<unknown> {
    return this.send(dest, encodePayload(value));
  }

  /** Receives the next payload of this call from communicator rank `source`. */
  async recv(source: number): Promise<EncodedPayload> {
    const { envelope, payload } = await this.#mismatch.wait(source, this.#engine.recv(this.#context, this.#group.world(source), this.#tag));
    this.#mismatch.check(source, envelope.coll);
    return { kind: envelope.kind as PayloadKind, datatype: envelope.datatype as EncodedPayload['datatype'], count: envelope.count, bytes: payload };
  }

  /** Receives and decodes a value. */
  async recvValue(source: number): Promise<unknown> {
    return decode(await this.recv(source));
  }

  /** Receives a TypedArray of the same type as `like` and `length` elements. */
  async recvTyped<T extends TypedArray>(source: number, like: T, length: number): Promise<T> {
    const value = await this.recvValue(source);
    if (!isTypedArray(value) || value.constructor !== like.constructor || value.length !== length) {
      throw new CollectiveMismatchError({
        rank: this.rank,
        peer: source,
        mine: `${length} ${like.constructor.name} elements`,
        theirs: isTypedArray(value) ? `${value.length} ${value.constructor.name} elements` : typeof value,
        reason: 'different data',
        seq: this.#tag,
      });
    }
    return value as T;
  }

  /** The signature of the next message from `source`, without receiving it. */
  async peek(source: number): Promise<Signature | undefined> {
    const message = await this.#mismatch.wait(source, this.#engine.probe(this.#context, this.#group.world(source), this.#tag));
    this.#mismatch.check(source, message.envelope.coll);
    return message.envelope.coll;
  }
}

/** Decodes a received payload (whose bytes the receiver owns). */
export function decode(payload: EncodedPayload): unknown {
  return decodePayload(payload.kind, payload.datatype, payload.count, payload.bytes);
}

/** A private copy of a value, as if it had been sent to oneself. */
export function cloneValue<T>(value: T): T {
  if (isTypedArray(value)) return value.slice() as T;
  const payload = encodePayload(value);
  return decode({ ...payload, bytes: payload.bytes.slice() }) as T;
}

/** A new TypedArray of the same type as `like` with `length` elements. */
export function allocLike<T extends TypedArray>(like: T, length: number): T {
  return new (like.constructor as new (n: number) => T)(length);
}

/** Block boundaries of `count` elements in `parts` near-equal blocks, as offsets (parts + 1 entries). */
export function blockOffsets(count: number, parts: number): number[] {
  const base = Math.floor(count / parts);
  const extra = count % parts;
  const offsets = [0];
  for (let i = 0; i < parts; i++) offsets.push((offsets[i] as number) + base + (i < extra ? 1 : 0));
  return offsets;
}

/** The same blocks as [start, end) ranges. */
export function blocks(count: number, parts: number): Array<[number, number]> {
  const offsets = blockOffsets(count, parts);
  return Array.from({ length: parts }, (_, i) => [offsets[i] as number, offsets[i + 1] as number]);
}

/**
 * Packs several (slot, payload) pairs into one payload, keeping each
 * payload's bytes as they are (TypedArrays are not re-encoded).
 */
export function pack(entries: ReadonlyArray<readonly [number, EncodedPayload]>): EncodedPayload {
  return encodePayload(entries.map(([slot, p]) => [slot, p.kind, p.datatype, p.count, p.bytes]));
}

/** The inverse of {@link pack}. */
export function unpack(payload: EncodedPayload): Array<[number, EncodedPayload]> {
  const rows = decode(payload) as Array<[number, PayloadKind, EncodedPayload['datatype'], number, Uint8Array]>;
  return rows.map(([slot, kind, datatype, count, bytes]) => [slot, { kind, datatype, count, bytes }]);
}
