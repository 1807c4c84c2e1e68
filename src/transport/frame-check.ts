/**
 * What is wrong with a frame from a peer, before anything is allocated for
 * it, on any link: a phase, kind or datatype that does not exist, a count
 * that does not match the bytes, a tag out of range, an eager message above
 * the eager limit, a message above the size limit, or rendezvous data this
 * rank did not ask for (or of another size).
 */
import { config } from '../config.js';
import { Datatype, PayloadKind, TYPED_ARRAY_CONSTRUCTORS } from '../datatype.js';
import { TransportError } from '../errors.js';
import type { Frame } from './transport.js';
import { decodeEnvelope, Rendezvous, type WireEnvelope } from './wire.js';

/** Bytes per element of each raw datatype on the wire. */
const ELEMENT_BYTES = new Map<number, number>([
  ...[...TYPED_ARRAY_CONSTRUCTORS].map(([datatype, ctor]) => [datatype, ctor.BYTES_PER_ELEMENT] as [number, number]),
  [Datatype.BUFFER, 1],
  [Datatype.DATAVIEW, 1],
  [Datatype.ARRAYBUFFER, 1],
]);

/** `target`: for a DATA frame, the buffer this rank asked for it to go into, if it asked. Returns a phrase to follow "it sent". */
export function frameProblem(e: Frame, target: Uint8Array | undefined): string | undefined {
  if (e.rndv === Rendezvous.CTS) return e.payloadBytes === 0 ? undefined : 'a CTS that carries a payload';
  if (e.rndv !== Rendezvous.EAGER && e.rndv !== Rendezvous.RTS && e.rndv !== Rendezvous.DATA) return `an unknown rendezvous phase ${e.rndv}`;
  if (e.tag < 0 || e.tag > 2 ** 31 - 1) return `a tag ${e.tag} out of range`;
  if (e.payloadBytes > config.maxMessageBytes) return `a ${e.payloadBytes}-byte message, above TSMPI_MAX_MESSAGE_BYTES (${config.maxMessageBytes})`;
  if (e.rndv === Rendezvous.EAGER && e.payloadBytes > config.eagerBytes) return `an eager ${e.payloadBytes}-byte message, above the eager limit (${config.eagerBytes}, TSMPI_EAGER_BYTES)`;
  if (e.rndv === Rendezvous.DATA) {
    if (target === undefined) return `data for rendezvous ${e.rndvId}, which this rank did not ask for`;
    if (target.byteLength !== e.payloadBytes) return `${e.payloadBytes} bytes for rendezvous ${e.rndvId}, which announced ${target.byteLength}`;
  }
  if (e.kind === PayloadKind.SERIALIZED) return e.datatype === Datatype.BYTES && e.count === e.payloadBytes ? undefined : 'a serialized payload whose datatype or count is wrong';
  if (e.kind !== PayloadKind.TYPED) return `an unknown payload kind ${e.kind}`;
  const size = ELEMENT_BYTES.get(e.datatype);
  if (size === undefined) return `an unknown datatype ${e.datatype}`;
  if (e.count * size !== e.payloadBytes) return `${e.count} elements of datatype ${e.datatype} in ${e.payloadBytes} bytes`;
  return undefined;
}

/**
 * Decodes the envelope that begins a message from a peer (length-delimited
 * protobuf, then the inline payload bytes) and checks that it is message
 * `expectedSeq` of that peer's stream. Shared by every link.
 * @throws TransportError for malformed bytes or a message out of sequence (the link refuses the peer).
 */
export function decodeDue(bytes: Uint8Array, expectedSeq: number): { envelope: WireEnvelope; inline: Uint8Array } {
  let decoded: ReturnType<typeof decodeEnvelope>;
  try {
    decoded = decodeEnvelope(bytes);
  } catch (error) {
    throw new TransportError(`it sent a malformed envelope (${(error as Error).message})`, { cause: error });
  }
  if (decoded.envelope.seq !== expectedSeq) throw new TransportError(`it sent message ${decoded.envelope.seq} where ${expectedSeq} was due`);
  return decoded;
}
