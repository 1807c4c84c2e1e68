/**
 * Wire types from `proto/tsmpi.proto`, the schema of record: the gRPC
 * package definition (for the coordinator and the rank service) and the
 * protobufjs types that encode the data plane's Envelope and Control messages.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { PACKAGE_ROOT } from '../paths.js';
import type { Envelope } from './transport.js';

/** Absolute path of the schema. */
export const PROTO_PATH = path.join(PACKAGE_ROOT, 'proto', 'tsmpi.proto');

const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true };

const packageDefinition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);

/** Service definitions loaded from the schema. */
export const services = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  tsmpi: { v1: { Coordinator: grpc.ServiceClientConstructor; Rank: grpc.ServiceClientConstructor } };
};

const root = protobuf.loadSync(PROTO_PATH);
const EnvelopeType = root.lookupType('tsmpi.v1.Envelope');
const ControlType = root.lookupType('tsmpi.v1.Control');

/** The messages of the launcher <-> host agent channel (`AgentInput`, `AgentOutput`). */
export const agentMessages = { input: root.lookupType('tsmpi.v1.AgentInput'), output: root.lookupType('tsmpi.v1.AgentOutput'), hello: root.lookupType('tsmpi.v1.AgentHello') };

/** Phases of the rendezvous protocol (`tsmpi.v1.Rendezvous`). */
export const Rendezvous = { EAGER: 0, RTS: 1, CTS: 2, DATA: 3 } as const;

/** An Envelope as it travels: the message header plus the stream sequence number, payload size and rendezvous phase. */
export interface WireEnvelope extends Envelope {
  seq: number;
  payloadBytes: number;
  rndv: number;
  rndvId: number;
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return 0;
}

/**
 * Encodes an envelope (protobuf `tsmpi.v1.Envelope`, length-delimited),
 * followed by `inline` payload bytes when given: one buffer, one gRPC message.
 */
export function encodeEnvelope(e: WireEnvelope, inline?: Uint8Array): Buffer {
  const writer = EnvelopeType.encodeDelimited(
    EnvelopeType.fromObject({
      context: e.context,
      tag: e.tag,
      seq: e.seq,
      kind: e.kind,
      datatype: e.datatype,
      count: e.count,
      payloadBytes: e.payloadBytes,
      rndv: e.rndv,
      rndvId: e.rndvId,
      ...(e.coll
        ? {
            collKind: e.coll.kind,
            collRoot: e.coll.root,
            collCount: e.coll.count,
            collDatatype: e.coll.datatype,
            collOp: e.coll.op,
            collAlg: e.coll.alg,
          }
        : {}),
    }),
  );
  const header = writer.finish();
  if (inline === undefined || inline.byteLength === 0) return Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  const out = Buffer.allocUnsafe(header.byteLength + inline.byteLength);
  out.set(header, 0);
  out.set(inline, header.byteLength);
  return out;
}

/** Decodes a length-delimited envelope and returns it with the inline payload bytes that follow it. Throws on malformed bytes. */
export function decodeEnvelope(bytes: Uint8Array): { envelope: WireEnvelope; inline: Uint8Array } {
  const reader = protobuf.Reader.create(bytes);
  const m = EnvelopeType.decodeDelimited(reader) as unknown as Record<string, unknown>;
  const collKind = toNumber(m.collKind);
  const envelope: WireEnvelope = {
    ...(collKind !== 0
      ? {
          coll: {
            kind: collKind,
            root: toNumber(m.collRoot),
            count: toNumber(m.collCount),
            datatype: toNumber(m.collDatatype),
            op: toNumber(m.collOp),
            alg: toNumber(m.collAlg),
          },
        }
      : {}),
    context: toNumber(m.context),
    tag: toNumber(m.tag),
    seq: toNumber(m.seq),
    kind: toNumber(m.kind),
    datatype: toNumber(m.datatype),
    count: toNumber(m.count),
    payloadBytes: toNumber(m.payloadBytes),
    rndv: toNumber(m.rndv),
    rndvId: toNumber(m.rndvId),
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
