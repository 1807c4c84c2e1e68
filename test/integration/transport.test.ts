// The gRPC transport's connection set-up, in-process over real mTLS.
import { describe, expect, it } from 'vitest';
import { Datatype, PayloadKind } from '../../src/datatype.js';
import { JobCa } from '../../src/security/pki.js';
import { GrpcTransport } from '../../src/transport/grpc.js';
import { rankMaterial } from '../helpers/pki.js';

describe('gRPC transport wire-up', () => {
  it('dials back a faster peer that attached before this rank had the address table', async () => {
    const ca = await JobCa.create();
    const received: Array<{ source: number; payload: Uint8Array }> = [];
    const ranks = await Promise.all(
      [0, 1].map(async (rank) => {
        const t = await GrpcTransport.start({ jobId: ca.jobId, rank, size: 2, tls: await rankMaterial(ca, rank), bindHost: '127.0.0.1', onSecurityEvent: () => undefined });
        t.setHandler({ message: (source, _e, payload) => received.push({ source, payload }), peerFailed: () => undefined, peerFinished: () => undefined });
        return t;
      }),
    );
    const [slow, fast] = ranks as [GrpcTransport, GrpcTransport];
    try {
      const table = [slow, fast].map((t) => ({ address: t.address, host: 'localhost' }));
      fast.setPeers(table); // the slow rank has not got the table yet
      const sent = fast.send(0, { context: 0, tag: 0, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 2 }, new Uint8Array([4, 2]));
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toHaveLength(0);
      slow.setPeers(table);
      await sent;
      await expect.poll(() => received.length).toBe(1);
      expect(received[0]).toMatchObject({ source: 1 });
    } finally {
      await Promise.all(ranks.map((t) => t.close()));
    }
  });
});
