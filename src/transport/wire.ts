/**
 * Wire types from `proto/tsmpi.proto`, the schema of record: the protobufjs
 * types that encode the data plane's Envelope and Control messages, and the
 * gRPC service definitions (Coordinator) made from the same parsed schema.
 */
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { PACKAGE_ROOT } from '../paths.js';
import type { Frame } from './transport.js';

/** Absolute path of the schema. */
export const PROTO_PATH = path.join(PACKAGE_ROOT, 'proto', 'tsmpi.proto');

// 64-bit integers decode to plain numbers: every conversion in tsmpi asks for
// numbers anyway (`longs: Number`), and encoding an envelope from an object of
// numbers instead of a Message of long.js objects took it from 0.59 to 0.39 µs.
// This sets tsmpi's own protobufjs: the runtime and the launcher bundle theirs
// (scripts/bundle-runtime.mjs), so a program's protobufjs keeps its long.js.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

const root = protobuf.loadSync(PROTO_PATH);
const EnvelopeType = root.lookupType('tsmpi.v1.Envelope');
const ControlType = root.lookupType('tsmpi.v1.Control');

/** How decoded messages look to the code: proto-loader's conventions (camelCase fields, numbers for 64-bit integers and enums, defaults, oneof names). */
const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: Number, defaults: true, oneofs: true };

/**
 * A gRPC service definition for `name`, from the parsed schema: what
 * `@grpc/proto-loader` would make, without its second parse of the schema
 * and the reflection descriptors it builds (a tenth of a rank's start-up).
 */
function serviceDefinition(name: string): grpc.ServiceDefinition {
  const service = root.lookupService(name);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType as protobuf.Type;
    const response = method.resolvedResponseType as protobuf.Type;
    const serialize = (type: protobuf.Type) => (value: object): Buffer => {
      const bytes = type.encode(type.fromObject(value)).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    const deserialize = (type: protobuf.Type) => (bytes: Buffer): object => type.toObject(type.decode(bytes), OBJECT_OPTIONS);
    definition[method.name] = {
      path: `/${service.fullName.slice(1)}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serialize(request),
      requestDeserialize: deserialize(request),
      responseSerialize: serialize(response),
      responseDeserialize: deserialize(response),
    };
  }
  return definition;
}

/** The Coordinator service (Enroll, Session). */
export const coordinatorService = serviceDefinition('tsmpi.v1.Coordinator');

/** The messages of the launcher <-> host agent channel (`AgentInput`, `AgentOutput`). */
export const agentMessages = { input: root.lookupType('tsmpi.v1.AgentInput'), output: root.lookupType('tsmpi.v1.AgentOutput'), hello: root.lookupType('tsmpi.v1.AgentHello') };

/** Phases of the rendezvous protocol (`tsmpi.v1.Rendezvous`). */
export const Rendezvous = { EAGER: 0, RTS: 1, CTS: 2, DATA: 3 } as const;

/** An Envelope as it travels: the message header plus the stream sequence number, payload size and rendezvous phase. */
export interface WireEnvelope extends Frame {
  seq: number;
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return 0;
}

/**
 * Encodes a frame as an envelope (protobuf `tsmpi.v1.Envelope`,
 * length-delimited) with sequence number `seq`, in a buffer of its own (an
 * inline payload follows it in the same gRPC message; see grpc.ts).
 */
export function encodeEnvelope(e: Frame, seq: number): Buffer {
  // The generated encoder takes a plain object of numbers (no Message, no
  // long.js objects), written out in one shape: a spread in this literal took
  // V8's slow path for every property. Fields left undefined are not encoded.
  const coll = e.coll;
  const writer = EnvelopeType.encodeDelimited({
    context: e.context,
    tag: e.tag,
    seq,
    kind: e.kind,
    datatype: e.datatype,
    count: e.count,
    payloadBytes: e.payloadBytes,
    rndv: e.rndv,
    rndvId: e.rndvId,
    collKind: coll?.kind,
    collRoot: coll?.root,
    collCount: coll?.count,
    collDatatype: coll?.datatype,
    collOp: coll?.op,
    collAlg: coll?.alg,
  });
  const header = writer.finish();
  return Buffer.from(header.buffer, header.byteOffset, header.byteLength);
}

/** Decodes a length-delimited envelope and returns it with the inline payload bytes that follow it. Throws on malformed bytes. */
export function decodeEnvelope(bytes: Uint8Array): { envelope: WireEnvelope; inline: Uint8Array } {
  const reader = protobuf.Reader.create(bytes);
  const m = EnvelopeType.decodeDelimited(reader) as unknown as Record<string, unknown>;
  const collKind = toNumber(m.collKind);
  const envelope: WireEnvelope = {
    context: toNumber(m.context),
    tag: toNumber(m.tag),
    kind: toNumber(m.kind),
    datatype: toNumber(m.datatype),
    count: toNumber(m.count),
    coll:
      collKind === 0
        ? undefined
        : {
            kind: collKind,
            root: toNumber(m.collRoot),
            count: toNumber(m.collCount),
            datatype: toNumber(m.collDatatype),
            op: toNumber(m.collOp),
            alg: toNumber(m.collAlg),
          },
    rndv: toNumber(m.rndv),
    rndvId: toNumber(m.rndvId),
    payloadBytes: toNumber(m.payloadBytes),
    seq: toNumber(m.seq),
  };
  return { envelope, inline: bytes.subarray(reader.pos) };
}

/** The Hello a dialling rank sends first on its Attach stream. */
export interface Hello {
  jobId: string;
  rank: number;
  destRank: number;
}

/** Encodes a `tsmpi.v1.Control` carrying a Hello. */
export function encodeHello(hello: Hello): Buffer {
  const bytes = ControlType.encode(ControlType.fromObject({ hello })).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a `tsmpi.v1.Control`; returns its Hello, or `undefined` when it carries none. */
export function decodeHello(bytes: Uint8Array): Hello | undefined {
  const m = ControlType.toObject(ControlType.decode(bytes), { longs: Number, defaults: true }) as { hello?: Hello };
  return m.hello;
}

/** gRPC method path of the data plane stream. */
export const ATTACH_PATH = '/tsmpi.v1.Rank/Attach';

/** The pass-through codec: payload bytes are neither copied nor re-encoded. */
export const passThrough = (b: Buffer): Buffer => b;

/**
 * The Rank service with the pass-through codec: requests are protobuf
 * Control messages encoded by us, responses are raw envelope/chunk bytes.
 */
export const rankServiceDefinition: grpc.ServiceDefinition = {
  attach: {
    path: ATTACH_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};
