// Property-based tests (fast-check) of every decoder that reads what a peer or
// a launcher sends: random and mutated inputs never throw anything but a typed
// error, and nothing is allocated from a size that was not checked.
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { config } from '../../src/config.js';
import { MpiError } from '../../src/errors.js';
import { decodePayload } from '../../src/p2p/payload.js';
import { parseBootstrap } from '../../src/runtime.js';
import { JobCa } from '../../src/security/pki.js';
import { InboundParser } from '../../src/transport/grpc.js';
import { agentMessages, encodeEnvelope, Rendezvous, type WireEnvelope } from '../../src/transport/wire.js';
import { MessageChannel } from '../../launcher/channel.js';

const RUNS = { numRuns: 300 };

/** Runs `fn`; returns the error it threw, if any. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

const envelopeArb: fc.Arbitrary<WireEnvelope> = fc.record({
  context: fc.nat(),
  tag: fc.integer({ min: -5, max: 2 ** 31 + 5 }),
  seq: fc.nat({ max: 3 }),
  kind: fc.nat({ max: 4 }),
  datatype: fc.nat({ max: 20 }),
  count: fc.oneof(fc.nat({ max: 100 }), fc.nat()),
  payloadBytes: fc.oneof(fc.nat({ max: 100 }), fc.integer({ min: 0, max: 2 ** 40 })),
  rndv: fc.nat({ max: 5 }),
  rndvId: fc.nat({ max: 3 }),
});

describe('decoders under random and mutated input', () => {
  it('the stream parser throws only TransportError, and accepts a header only for a size it can take', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(envelopeArb.map((e) => encodeEnvelope(e, e.seq)), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))), { maxLength: 6 }), (frames) => {
        const asked = new Map([[1, new Uint8Array(64)]]); // this rank asked for rendezvous 1, of 64 bytes
        const due = [1];
        const parser = new InboundParser((id) => asked.get(id), () => due.shift());
        for (const frame of frames) {
          const error = thrown(() => parser.push(frame, () => undefined));
          if (error !== undefined) {
            expect(error).toBeInstanceOf(MpiError);
            expect((error as MpiError).code).toBe('ERR_TSMPI_TRANSPORT');
            return;
          }
        }
      }),
      RUNS,
    );
  });

  it('never allocates for an announced payload above the eager limit or other than what was asked for', () => {
    fc.assert(
      fc.property(envelopeArb, (e) => {
        const due = [1];
        const parser = new InboundParser((id) => (id === 1 ? new Uint8Array(64) : undefined), () => due.shift());
        const error = thrown(() => parser.push(encodeEnvelope(e, 0), () => undefined));
        if (error !== undefined) return;
        // Accepted: whatever follows is allocated from payloadBytes, which must be within what this rank takes.
        if (e.rndv === Rendezvous.EAGER) expect(e.payloadBytes).toBeLessThanOrEqual(config.eagerBytes);
        if (e.rndv === Rendezvous.DATA) expect(e.payloadBytes).toBe(64);
        expect(e.payloadBytes).toBeLessThanOrEqual(config.maxMessageBytes);
      }),
      RUNS,
    );
  });

  it('the payload decoder throws only typed errors', () => {
    fc.assert(
      fc.property(fc.nat({ max: 4 }), fc.nat({ max: 20 }), fc.nat({ max: 64 }), fc.uint8Array({ maxLength: 64 }), (kind, datatype, count, bytes) => {
        const error = thrown(() => decodePayload(kind, datatype, count, bytes.slice()));
        if (error !== undefined) expect(error).toBeInstanceOf(MpiError);
      }),
      RUNS,
    );
  });

  it('the bootstrap parser throws only BootstrapError, on random text and on mutated bootstraps', () => {
    const valid = {
      jobId: 'abcdefgh',
      rank: 0,
      size: 2,
      enroll: ['127.0.0.1:1'],
      coordinator: ['127.0.0.1:2'],
      caPem: 'x',
      token: 'dA==',
      host: 'h',
      node: 0,
      network: { multiHost: false, include: [], exclude: [] },
    };
    expect(parseBootstrap(JSON.stringify(valid))).toEqual(valid);
    const mutated = fc.record(Object.fromEntries(Object.keys(valid).map((k) => [k, fc.option(fc.anything(), { nil: undefined })]))).map((changes) => JSON.stringify({ ...valid, ...changes }));
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutated), (line) => {
        const error = thrown(() => parseBootstrap(line));
        if (error !== undefined) expect(error).toMatchObject({ code: 'ERR_TSMPI_BOOTSTRAP' });
      }),
      RUNS,
    );
  });

  it('the job CA refuses a random or mutated CSR with BootstrapError', async () => {
    const ca = await JobCa.create();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const error = await ca.issue(bytes, { jobId: ca.jobId, role: 'rank', rank: 0 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'ERR_TSMPI_BOOTSTRAP' });
      }),
      { numRuns: 100 },
    );
  });

  it('the agent channel ends, saying why, on garbage; it never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 5 }), (chunks) => {
        const input = new PassThrough();
        let ended: string | undefined | null = null;
        let messages = 0;
        new MessageChannel(input, new PassThrough(), { in: agentMessages.input, out: agentMessages.output }, () => messages++, (why) => (ended = why));
        for (const chunk of chunks) input.write(Buffer.from(chunk));
        input.end();
        return new Promise<void>((resolve) => setImmediate(() => {
          expect(ended === null || ended === undefined || typeof ended === 'string').toBe(true);
          resolve();
        }));
      }),
      { numRuns: 100 },
    );
  });
});
