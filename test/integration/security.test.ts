// Security of the real transport: mTLS gRPC servers of real ranks, attacked
// with certificates made at test time. Assertions are on error codes and on
// what was delivered, never on message text alone.
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayloadKind, Datatype } from '../../src/datatype.js';
import { JobCa } from '../../src/security/pki.js';
import { channelCredentials, type TlsMaterial } from '../../src/security/tls.js';
import type { Messenger } from '../../src/p2p/rendezvous.js';
import type { GrpcTransport } from '../../src/transport/grpc.js';
import { startLinked } from '../helpers/link.js';
import type { Envelope, Payload } from '../../src/transport/transport.js';
import { ATTACH_PATH, encodeHello } from '../../src/transport/wire.js';
import { rankMaterial } from '../helpers/pki.js';

interface Rank {
  transport: GrpcTransport;
  messenger: Messenger;
  received: Array<{ source: number; payload: Payload }>;
  failures: Array<{ rank: number; code: string }>;
  security: Array<{ peer: string; reason: string }>;
}

async function startRank(ca: JobCa, rank: number, size: number, material?: TlsMaterial): Promise<Rank> {
  const r: Partial<Rank> = { received: [], failures: [], security: [] };
  const linked = await startLinked({
    jobId: ca.jobId,
    rank,
    size,
    tls: material ?? (await rankMaterial(ca, rank)),
    listen: ['127.0.0.1'], node: 0,
    onSecurityEvent: (peer, reason) => r.security?.push({ peer, reason }),
    onProtocolEvent: (peer, reason) => r.security?.push({ peer, reason }),
  });
  r.transport = linked.link;
  r.messenger = linked.messenger;
  r.messenger.setHandler({
    message: (source, _e, payload) => r.received?.push({ source, payload }),
    peerFailed: (failed, error) => r.failures?.push({ rank: failed, code: error.code }),
    peerFinished: () => undefined,
  });
  return r as Rank;
}

const envelope: Envelope = { context: 0, tag: 1, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 3 };

/** Opens an Attach stream as an attacker would and resolves to the gRPC status code it ends with. */
function attach(address: string, credentials: grpc.ChannelCredentials, hello?: Buffer): Promise<grpc.status> {
  const client = new grpc.Client(address, credentials, { 'grpc.ssl_target_name_override': 'tsmpi' });
  const id = (b: Buffer): Buffer => b;
  const call = client.makeBidiStreamRequest(ATTACH_PATH, id, id);
  if (hello) call.write(hello);
  return new Promise((resolve) => {
    call.on('data', () => undefined);
    call.on('error', (error: grpc.ServiceError) => {
      client.close();
      resolve(error.code);
    });
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      resolve(status.code);
    });
  });
}

const trustAnything = (): undefined => undefined;

describe('transport security (real mTLS gRPC)', () => {
  let jobA: JobCa;
  let ranks: Rank[];

  beforeAll(async () => {
    jobA = await JobCa.create();
    ranks = await Promise.all([0, 1, 2].map((r) => startRank(jobA, r, 3)));
    const table = ranks.map((r) => ({ addresses: [...r.transport.addresses], host: 'localhost', node: 0 }));
    for (const r of ranks) r.transport.setPeers(table);
  });

  afterAll(async () => {
    await Promise.all(ranks.map((r) => r.messenger.close()));
  });

  it('delivers a message with the source taken from the certificate', async () => {
    await ranks[1]!.messenger.send(0, envelope, new Uint8Array([1, 2, 3]));
    await expect.poll(() => ranks[0]!.received.length).toBe(1);
    expect(ranks[0]!.received[0]!.source).toBe(1);
    expect([...(ranks[0]!.received[0]!.payload as Uint8Array)]).toEqual([1, 2, 3]); // a small message: eager, bytes delivered
  });

  it('refuses a client that presents no certificate, and reports it', async () => {
    const before = ranks[0]!.security.length;
    const code = await attach(ranks[0]!.transport.addresses[0]!, channelCredentials({ caPem: jobA.certPem }, trustAnything));
    expect(code).toBe(grpc.status.UNAVAILABLE);
    await expect.poll(() => ranks[0]!.security.slice(before).some((e) => e.reason.includes('before it authenticated'))).toBe(true);
  });

  it('refuses a certificate from another CA claiming this job id, and reports it', async () => {
    const rogue = await JobCa.create(jobA.jobId);
    const material = await rankMaterial(rogue, 1);
    const before = ranks[0]!.security.length;
    const delivered = ranks[0]!.received.length;
    const code = await attach(
      ranks[0]!.transport.addresses[0]!,
      channelCredentials({ caPem: jobA.certPem, certPem: material.certPem, keyPem: material.keyPem }, trustAnything),
      encodeHello({ jobId: jobA.jobId, rank: 1, destRank: 0 }),
    );
    expect(code).toBe(grpc.status.UNAVAILABLE);
    await expect.poll(() => ranks[0]!.security.length).toBeGreaterThan(before);
    expect(ranks[0]!.received.length).toBe(delivered);
  });

  it('refuses an expired certificate of this job', async () => {
    const material = await rankMaterial(jobA, 1, -60_000);
    const code = await attach(ranks[0]!.transport.addresses[0]!, channelCredentials(material, trustAnything));
    expect(code).toBe(grpc.status.UNAVAILABLE);
  });

  it('refuses a rank of another concurrently running job, on both sides', async () => {
    const jobB = await JobCa.create();
    const b = await Promise.all([0, 1].map((r) => startRank(jobB, r, 2)));
    try {
      // Rank 1 of job B is pointed at rank 0 of job A.
      b[1]!.transport.setPeers([
        { addresses: [...ranks[0]!.transport.addresses], host: 'localhost', node: 0 },
        { addresses: [...b[1]!.transport.addresses], host: 'localhost', node: 0 },
      ]);
      const before = ranks[0]!.received.length;
      await expect(b[1]!.messenger.send(0, envelope, new Uint8Array([6, 6, 6]))).rejects.toMatchObject({
        code: 'ERR_TSMPI_AUTHENTICATION',
      });
      expect(b[1]!.security.length).toBeGreaterThan(0);
      await expect.poll(() => ranks[0]!.security.some((e) => e.reason.includes('before it authenticated'))).toBe(true);
      expect(ranks[0]!.received.length).toBe(before);
    } finally {
      await Promise.all(b.map((r) => r.messenger.close()));
    }
  });

  it('refuses a valid certificate of rank 1 claiming to be rank 2, and reports it', async () => {
    const material = await rankMaterial(jobA, 1);
    const before = ranks[0]!.security.length;
    const code = await attach(
      ranks[0]!.transport.addresses[0]!,
      channelCredentials(material, trustAnything),
      encodeHello({ jobId: jobA.jobId, rank: 2, destRank: 0 }),
    );
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
    // Other reports (late closes of earlier tests' connections) may interleave: look for this one.
    expect(ranks[0]!.security.slice(before).some((e) => e.reason === 'certificate of rank 1 claims to be rank 2')).toBe(true);
  });

  it('refuses a server whose certificate names another rank than the one dialled', async () => {
    const jobC = await JobCa.create();
    const c = await Promise.all([0, 1, 2].map((r) => startRank(jobC, r, 3)));
    try {
      // Rank 1's table says rank 0 lives where rank 2 listens.
      c[1]!.transport.setPeers([
        { addresses: [...c[2]!.transport.addresses], host: 'localhost', node: 0 },
        { addresses: [...c[1]!.transport.addresses], host: 'localhost', node: 0 },
        { addresses: [...c[2]!.transport.addresses], host: 'localhost', node: 0 },
      ]);
      await expect(c[1]!.messenger.send(0, envelope, new Uint8Array(3))).rejects.toMatchObject({ code: 'ERR_TSMPI_AUTHENTICATION' });
      expect(c[1]!.security.some((e) => e.reason.includes('should be rank 0'))).toBe(true);
      expect(c[2]!.received).toHaveLength(0);
    } finally {
      await Promise.all(c.map((r) => r.messenger.close()));
    }
  });

  it('speaks TLS 1.3 only: a TLS 1.2 client is refused', async () => {
    const material = await rankMaterial(jobA, 1);
    const [host, port] = ranks[0]!.transport.addresses[0]!.split(':') as [string, string];
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host,
        port: Number(port),
        ca: material.caPem,
        cert: material.certPem,
        key: material.keyPem,
        maxVersion: 'TLSv1.2',
        minVersion: 'TLSv1.2',
        checkServerIdentity: () => undefined,
        ALPNProtocols: ['h2'],
      });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(outcome).not.toBe('connected');
  });
});
