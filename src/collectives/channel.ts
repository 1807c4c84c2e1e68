/**
 * What a collective algorithm sees of the world: its rank, the group size and
 * point-to-point sends and receives of encoded payloads, on a context and tag
 * reserved for this one collective call. Algorithms never see the transport.
 */
import { decodePayload, encodePayload, type EncodedPayload } from '../p2p/payload.js';

/** Point-to-point within one collective call. */
export interface CollectiveChannel {
  readonly rank: number;
  readonly size: number;
  /** Sends an encoded payload to `dest`; resolves when its bytes may be reused. */
  send(dest: number, payload: EncodedPayload): Promise<void>;
  /** Receives the next payload of this collective call from `source`. */
  recv(source: number): Promise<EncodedPayload>;
}

/** Encodes a user value (TypedArrays without a copy). */
export const encode = encodePayload;

/** Decodes a payload received by {@link CollectiveChannel.recv} (whose bytes the receiver owns). */
export function decode(payload: EncodedPayload): unknown {
  return decodePayload(payload.kind, payload.datatype, payload.count, payload.bytes);
}

/** A private copy of a value, as if it had been sent to oneself. */
export function cloneValue(value: unknown): unknown {
  const payload = encodePayload(value);
  return decode({ ...payload, bytes: payload.bytes.slice() });
}
