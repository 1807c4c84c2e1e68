// The gRPC transport's connection set-up, in-process over real mTLS.
import { describe, expect, it } from 'vitest';
import { config } from '../../src/config.js';
import { Datatype, PayloadKind } from '../../src/datatype.js';
import { JobCa } from '../../src/security/pki.js';
import { startLinked, type LinkedRank } from '../helpers/link.js';
import type { Payload } from '../../src/transport/transport.js';
import { rankMaterial } from '../helpers/pki.js';

describe('gRPC transport wire-up', () => {
  it('dials back a faster peer that attached before this rank had the address table', async () => {
    const ca = await JobCa.create();
    const received: Array<{ source: number; payload: Payload }> = [];
    const ranks = await Promise.all(
      [0, 1].map(async (rank) => {
        const t = await startLinked({ jobId: ca.jobId, rank, size: 2, tls: await rankMaterial(ca, rank), listen: ['127.0.0.1'], node: 0, onSecurityEvent: () => undefined, onProtocolEvent: () => undefined });
        t.messenger.setHandler({ message: (source, _e, payload) => received.push({ source, payload }), peerFailed: () => undefined, peerFinished: () => undefined });
        return t;
      }),
    );
    const [slow, fast] = ranks as [LinkedRank, LinkedRank];
    try {
      const table = [slow, fast].map((t) => ({ addresses: [...t.link.addresses], host: 'localhost', node: 0 }));
      fast.link.setPeers(table); // the slow rank has not got the table yet
      const sent = fast.messenger.send(0, { context: 0, tag: 0, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: 2 }, new Uint8Array([4, 2]));
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toHaveLength(0);
      slow.link.setPeers(table);
      await sent;
      await expect.poll(() => received.length).toBe(1);
      expect(received[0]).toMatchObject({ source: 1 });
    } finally {
      await Promise.all(ranks.map((t) => t.messenger.close()));
    }
  });

  it('sends a message above the eager limit by rendezvous: the receiver holds only its size until it fetches it', async () => {
    const ca = await JobCa.create();
    const received: Array<{ source: number; payload: Payload }> = [];
    const failures: number[] = [];
    const ranks = await Promise.all(
      [0, 1].map(async (rank) => {
        const t = await startLinked({ jobId: ca.jobId, rank, size: 2, tls: await rankMaterial(ca, rank), listen: ['127.0.0.1'], node: 0, onSecurityEvent: () => undefined, onProtocolEvent: () => undefined });
        t.messenger.setHandler({ message: (source, _e, payload) => received.push({ source, payload }), peerFailed: (peer) => failures.push(peer), peerFinished: () => undefined });
        return t;
      }),
    );
    const [receiver, sender] = ranks as [LinkedRank, LinkedRank];
    try {
      const table = ranks.map((t) => ({ addresses: [...t.link.addresses], host: 'localhost', node: 0 }));
      for (const t of ranks) t.link.setPeers(table);
      const bytes = new Uint8Array(config.eagerBytes + 3 * 1024 * 1024 + 5).map((_, i) => i % 251);
      let sent = false;
      const sending = sender.messenger.send(0, { context: 0, tag: 7, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: bytes.length }, bytes).then(() => (sent = true));
      await expect.poll(() => received.length).toBe(1);
      const payload = received[0]!.payload;
      expect(payload).not.toBeInstanceOf(Uint8Array); // only the announcement has arrived
      expect(payload.byteLength).toBe(bytes.length);
      await new Promise((r) => setTimeout(r, 200));
      expect(sent).toBe(false); // a rendezvous send completes only once the receiver asked for it
      const fetched = await (payload as Exclude<Payload, Uint8Array>).fetch();
      await sending;
      expect(Buffer.compare(fetched, bytes)).toBe(0);

      // The sender dies before the receiver asks: the fetch rejects, naming it.
      const orphan = sender.messenger.send(0, { context: 0, tag: 8, kind: PayloadKind.TYPED, datatype: Datatype.UINT8, count: bytes.length }, bytes);
      orphan.catch(() => undefined);
      await expect.poll(() => received.length).toBe(2);
      receiver.messenger.peerDied(1, 'killed by the test');
      await expect((received[1]!.payload as Exclude<Payload, Uint8Array>).fetch()).rejects.toMatchObject({ code: 'ERR_TSMPI_PEER_FAILED', rank: 1 });
      expect(failures).toEqual([1]);
    } finally {
      await Promise.all(ranks.map((t) => t.messenger.close()));
    }
  });
});
