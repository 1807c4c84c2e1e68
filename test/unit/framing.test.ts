// The gRPC link's framing on the receiving side (InboundParser): batches of
// small messages in one gRPC message, chunked payloads, and rendezvous data
// that comes without its envelope, in the order this rank asked for it.
import { describe, expect, it } from 'vitest';
import { Datatype, PayloadKind } from '../../src/datatype.js';
import { MpiError } from '../../src/errors.js';
import { InboundParser } from '../../src/transport/grpc.js';
import { decodeEnvelope, encodeEnvelope, Rendezvous, type WireEnvelope } from '../../src/transport/wire.js';

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const envelope = (seq: number, rest: Partial<WireEnvelope>): WireEnvelope => ({
  context: 1,
  tag: 7,
  seq,
  kind: PayloadKind.TYPED,
  datatype: Datatype.UINT8,
  count: 0,
  payloadBytes: 0,
  rndv: Rendezvous.EAGER,
  rndvId: 0,
  ...rest,
});
const eager = (seq: number, payload: Uint8Array): Buffer => Buffer.concat([encodeEnvelope(envelope(seq, { count: payload.byteLength, payloadBytes: payload.byteLength }), seq), payload]);

/** A parser for a peer that this rank asked for the rendezvous payloads in `asked`, in that order. */
function parser(asked: Array<[number, Uint8Array]> = []) {
  const targets = new Map(asked);
  const due = asked.map(([id]) => id);
  const got: Array<{ envelope: WireEnvelope; payload: Uint8Array }> = [];
  const p = new InboundParser((id) => targets.get(id), () => due.shift());
  return { got, push: (data: Uint8Array) => p.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), (e, payload) => got.push({ envelope: e, payload })) };
}

function transportError(fn: () => void): MpiError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MpiError);
    expect((error as MpiError).code).toBe('ERR_TSMPI_TRANSPORT');
    return error as MpiError;
  }
  throw new Error('no error was thrown');
}

describe('gRPC framing', () => {
  it('delivers each message of a batch in order, with exactly its own bytes', () => {
    const p = parser();
    const rts = encodeEnvelope(envelope(1, { count: 1 << 20, payloadBytes: 1 << 20, rndv: Rendezvous.RTS, rndvId: 4 }), 1);
    p.push(Buffer.concat([eager(0, bytes(8, 1)), rts, eager(2, bytes(3, 2)), eager(3, new Uint8Array(0))]));
    expect(p.got.map((m) => [m.envelope.seq, m.envelope.rndv, m.payload.byteLength])).toEqual([
      [0, Rendezvous.EAGER, 8],
      [1, Rendezvous.RTS, 0],
      [2, Rendezvous.EAGER, 3],
      [3, Rendezvous.EAGER, 0],
    ]);
    expect([...(p.got[0]?.payload ?? [])]).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect([...(p.got[2]?.payload ?? [])]).toEqual([2, 2, 2]);
    expect(p.got[1]?.envelope.payloadBytes).toBe(1 << 20);
  });

  it('lets the last message of a batch continue in chunks, and refuses an inline payload cut short', () => {
    const p = parser();
    const head = encodeEnvelope(envelope(1, { count: 100, payloadBytes: 100 }), 1);
    p.push(Buffer.concat([eager(0, bytes(4, 9)), head]));
    expect(p.got).toHaveLength(1);
    p.push(bytes(60, 3));
    p.push(bytes(40, 3));
    expect(p.got).toHaveLength(2);
    expect(p.got[1]?.payload).toEqual(bytes(100, 3));
    const short = encodeEnvelope(envelope(0, { count: 100, payloadBytes: 100 }), 0);
    expect(transportError(() => parser().push(Buffer.concat([short, bytes(10, 3)]))).message).toMatch(/cut short/);
  });

  it('puts rendezvous data that comes without an envelope into the buffers asked for, in the order asked', () => {
    const first = new Uint8Array(200 << 10);
    const second = new Uint8Array(100 << 10);
    const p = parser([
      [5, first],
      [6, second],
    ]);
    p.push(bytes(128 << 10, 1)); // a chunk: above any envelope-led message, so the start of payload 5
    p.push(bytes(72 << 10, 1));
    p.push(bytes(100 << 10, 2)); // payload 6, in one chunk
    expect(p.got.map((m) => [m.envelope.rndv, m.envelope.rndvId])).toEqual([
      [Rendezvous.DATA, 5],
      [Rendezvous.DATA, 6],
    ]);
    expect(p.got[0]?.payload).toBe(first);
    expect(first).toEqual(bytes(200 << 10, 1));
    expect(p.got[1]?.payload).toBe(second);
    expect(second).toEqual(bytes(100 << 10, 2));
  });

  it('refuses rendezvous data nobody asked for, data larger than asked, and data out of the order asked', () => {
    expect(transportError(() => parser().push(bytes(100 << 10, 0))).message).toMatch(/chunk where a message was due/);
    expect(transportError(() => parser([[1, new Uint8Array(80 << 10)]]).push(bytes(96 << 10, 0))).message).toMatch(/overruns/);
    const p = parser([
      [1, new Uint8Array(8)],
      [2, new Uint8Array(8)],
    ]);
    const data2 = Buffer.concat([encodeEnvelope(envelope(0, { count: 8, payloadBytes: 8, rndv: Rendezvous.DATA, rndvId: 2 }), 0), bytes(8, 0)]);
    expect(transportError(() => p.push(data2)).message).toMatch(/rendezvous 2 where 1 was due/);
  });
});

describe('envelope encoding', () => {
  it('round-trips a frame with and without a collective signature; an absent one costs no bytes', () => {
    const plain = envelope(3, { count: 2, payloadBytes: 2 });
    const coll = { kind: 4, root: 1, count: 2, datatype: Datatype.FLOAT32, op: 2, alg: 1 };
    const withColl = { ...plain, coll };
    const a = decodeEnvelope(encodeEnvelope(plain, 3));
    const b = decodeEnvelope(encodeEnvelope(withColl, 3));
    expect(a.envelope).toEqual({ ...plain, coll: undefined });
    expect(b.envelope).toEqual(withColl);
    // Same encoding as a frame that has no `coll` property at all.
    expect(encodeEnvelope({ ...plain, coll: undefined }, 3)).toEqual(encodeEnvelope(plain, 3));
    expect(encodeEnvelope(withColl, 3).byteLength).toBeGreaterThan(encodeEnvelope(plain, 3).byteLength + 6);
  });
});
