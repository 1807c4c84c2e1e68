// Hostile peers against a real rank (real mTLS gRPC, a real matching engine):
// an authenticated peer that breaks the protocol or floods it is refused,
// reported, and cannot make it allocate beyond its budget; unauthenticated
// connections have a deadline and a cap; the rank keeps serving its other peers.
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Datatype, PayloadKind } from '../../src/datatype.js';
import { PeerFailedError } from '../../src/errors.js';
import { ANY_TAG, Engine } from '../../src/p2p/engine.js';
import { JobCa } from '../../src/security/pki.js';
import { mutualTlsServerCredentials } from '../../src/security/tls.js';
import type { Messenger } from '../../src/p2p/rendezvous.js';
import type { GrpcTransport, GrpcTransportOptions } from '../../src/transport/grpc.js';
import { startLinked } from '../helpers/link.js';
import { encodeEnvelope, rankServiceDefinition, Rendezvous, type WireEnvelope } from '../../src/transport/wire.js';
import { rankMaterial } from '../helpers/pki.js';

type ServerCall = grpc.ServerDuplexStream<Buffer, Buffer>;

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

interface Victim {
  transport: GrpcTransport;
  messenger: Messenger;
  engine: Engine;
  events: Array<{ kind: 'security' | 'protocol'; peer: string; reason: string }>;
}

async function victim(ca: JobCa, size: number, options: Partial<GrpcTransportOptions> = {}, budget = { bytes: 1 << 20, messages: 100 }): Promise<Victim> {
  const events: Victim['events'] = [];
  const { link: transport, messenger } = await startLinked({
    jobId: ca.jobId,
    rank: 0,
    size,
    tls: await rankMaterial(ca, 0),
    listen: ['127.0.0.1'],
    node: 0,
    onSecurityEvent: (peer, reason) => events.push({ kind: 'security', peer, reason }),
    onProtocolEvent: (peer, reason) => events.push({ kind: 'protocol', peer, reason }),
    ...options,
  });
  closers.push(() => messenger.close());
  return { transport, messenger, engine: new Engine(messenger, budget), events };
}

/** A peer with a valid certificate of rank `rank` whose server writes `frames` on the stream the victim dials to it. */
async function attacker(ca: JobCa, rank: number, frames: (call: ServerCall) => void): Promise<string> {
  const server = new grpc.Server();
  server.addService(rankServiceDefinition, { attach: (call: ServerCall) => call.once('data', () => frames(call)) });
  const credentials = mutualTlsServerCredentials(await rankMaterial(ca, rank));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, p) => (error ? reject(error) : resolve(p))));
  closers.push(() => void server.forceShutdown());
  return `127.0.0.1:${port}`;
}

function frame(seq: number, bytes: number, extra: Partial<WireEnvelope> = {}): Buffer {
  const e: WireEnvelope = { context: 0, tag: 1, seq, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: bytes, payloadBytes: bytes, rndv: Rendezvous.EAGER, rndvId: 0, ...extra };
  return Buffer.concat([encodeEnvelope(e, e.seq), new Uint8Array(Math.min(bytes, 16 * 1024))]);
}

/** Starts the victim's stream to the attacker (rank 1), as a first send does. */
function provoke(v: Victim, addresses: string[]): void {
  v.transport.setPeers(addresses.map((a) => ({ addresses: [a], host: 'localhost', node: 0 })));
  v.messenger.send(1, { context: 0, tag: 0, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 1 }, new Uint8Array(1)).catch(() => undefined);
}

async function refusal(v: Victim): Promise<PeerFailedError> {
  const error = await v.engine.recv(0, 1, 99).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PeerFailedError);
  return error as PeerFailedError;
}

describe('a rank under attack from an authenticated peer', () => {
  it.each([
    ['an eager message above the eager limit', (call: ServerCall) => call.write(frame(0, (1 << 20) + 1)), /an eager 1048577-byte message, above the eager limit/],
    ['a message above the size limit', (call: ServerCall) => call.write(frame(0, 2 ** 31 + 1, { rndv: Rendezvous.RTS })), /above TSMPI_MAX_MESSAGE_BYTES/],
    ['garbage instead of an envelope', (call: ServerCall) => call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3])), /malformed envelope/],
    ['a wrong sequence number', (call: ServerCall) => call.write(frame(7, 3)), /message 7 where 0 was due/],
    ['data for a rendezvous it was never asked for', (call: ServerCall) => call.write(frame(0, 3, { rndv: Rendezvous.DATA, rndvId: 5 })), /rendezvous 5, which this rank did not ask for/],
    ['a count that does not fit its bytes', (call: ServerCall) => call.write(frame(0, 8, { datatype: Datatype.FLOAT64, count: 100 })), /100 elements of datatype 9 in 8 bytes/],
    ['an unknown payload kind', (call: ServerCall) => call.write(frame(0, 3, { kind: 9 })), /unknown payload kind 9/],
  ])('refuses %s, reports it, and fails the waits on that peer', async (_, attack, reason) => {
    const ca = await JobCa.create();
    const v = await victim(ca, 2);
    provoke(v, [v.transport.addresses[0]!, await attacker(ca, 1, attack)]);
    const error = await refusal(v);
    expect(error.reason).toMatch(reason);
    expect(v.events).toEqual([expect.objectContaining({ kind: 'protocol', peer: 'rank 1', reason: expect.stringMatching(reason) })]);
  });

  it('refuses a flood of unexpected messages at its budget, keeps its memory, and serves its other peers', async () => {
    const ca = await JobCa.create();
    const v = await victim(ca, 3, {}, { bytes: 1 << 20, messages: 100 });
    const legitRank = await startLinked({ jobId: ca.jobId, rank: 2, size: 3, tls: await rankMaterial(ca, 2), listen: ['127.0.0.1'], node: 0, onSecurityEvent: () => undefined, onProtocolEvent: () => undefined });
    const legit = legitRank.link;
    closers.push(() => legitRank.messenger.close());
    legitRank.messenger.setHandler({ message: () => undefined, peerFailed: () => undefined, peerFinished: () => undefined });
    const rss = process.memoryUsage().rss;
    const flood = await attacker(ca, 1, (call) => {
      // 10,000 messages of 16 KiB (160 MB) against a budget of 100 messages and 1 MiB, as fast as the stream takes them.
      let seq = 0;
      const more = (): void => {
        while (seq < 10_000 && !call.destroyed) if (!call.write(frame(seq++, 16 * 1024))) return void call.once('drain', more);
      };
      call.on('error', () => undefined);
      more();
    });
    const table = [v.transport.addresses[0]!, flood, legit.addresses[0]!].map((a) => ({ addresses: [a], host: 'localhost', node: 0 }));
    v.transport.setPeers(table);
    legit.setPeers(table);
    v.messenger.send(1, { context: 0, tag: 0, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 1 }, new Uint8Array(1)).catch(() => undefined);
    const error = await refusal(v);
    expect(error.reason).toMatch(/more unexpected messages than a peer may have waiting here \(100 messages/);
    expect(v.events.filter((e) => e.kind === 'protocol')).toHaveLength(1);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 1024 * 1024);
    // The other peer is served as before.
    await legitRank.messenger.send(0, { context: 0, tag: 3, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 2 }, new Uint8Array([4, 2]));
    const got = await v.engine.recv(0, 2, ANY_TAG, { timeoutMs: 10_000 });
    expect([...got.payload]).toEqual([4, 2]);
  });
});

describe('a rank before trust', () => {
  it('closes a connection that never sends its Hello within the deadline, and reports it', async () => {
    const ca = await JobCa.create();
    const v = await victim(ca, 2, { limits: { helloDeadlineMs: 300 } });
    const socket = net.connect({ host: '127.0.0.1', port: Number(v.transport.addresses[0]!.split(':')[1]) });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await closed;
    expect(v.events).toEqual([expect.objectContaining({ kind: 'security', reason: 'closed: it did not authenticate within 300 ms' })]);
  });

  it('holds at most so many connections waiting to authenticate: 500 idle ones cost it 16, and a legitimate peer still gets through', async () => {
    const ca = await JobCa.create();
    const v = await victim(ca, 3, { limits: { maxPendingConnections: 16, helloDeadlineMs: 30_000 } });
    const port = Number(v.transport.addresses[0]!.split(':')[1]);
    let closedAtOnce = 0;
    const open = new Set<net.Socket>();
    const sockets = await Promise.all(
      Array.from({ length: 500 }, () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
          open.add(s);
          s.on('error', () => undefined);
          s.once('close', () => {
            open.delete(s);
            closedAtOnce++;
          });
        }),
      ),
    );
    closers.push(() => sockets.forEach((s) => s.destroy()));
    await expect.poll(() => closedAtOnce, { timeout: 10_000 }).toBe(484);
    expect(v.events.filter((e) => /closed at once: 16 connections were already waiting/.test(e.reason))).toHaveLength(484);
    // The idle ones are closed when the rank closes: a finished rank never waits on them.
    const legitRank = await startLinked({ jobId: ca.jobId, rank: 2, size: 3, tls: await rankMaterial(ca, 2), listen: ['127.0.0.1'], node: 0, onSecurityEvent: () => undefined, onProtocolEvent: () => undefined });
    const legit = legitRank.link;
    closers.push(() => legitRank.messenger.close());
    legitRank.messenger.setHandler({ message: () => undefined, peerFailed: () => undefined, peerFinished: () => undefined });
    expect(open.size).toBe(16);
    for (const s of open) s.destroy(); // room again, once the rank has seen them close
    await expect.poll(() => v.events.filter((e) => /closed before it authenticated/.test(e.reason)).length, { timeout: 10_000 }).toBe(16);
    const table = [v.transport.addresses[0]!, '127.0.0.1:1', legit.addresses[0]!].map((a) => ({ addresses: [a], host: 'localhost', node: 0 }));
    v.transport.setPeers(table);
    legit.setPeers(table);
    await legitRank.messenger.send(0, { context: 0, tag: 3, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 1 }, new Uint8Array([9]));
    const got = await v.engine.recv(0, 2, ANY_TAG, { timeoutMs: 10_000 });
    expect([...got.payload]).toEqual([9]);
  });
});
