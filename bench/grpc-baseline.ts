// Baseline (c): plain @grpc/grpc-js between two processes in its best
// configuration found (../shared/reference/grpc-ceiling): one bidi stream,
// mutual TLS 1.3 (grpc-js's own credentials with tsmpi's certificates; the
// processes run with --tls-min-v1.3), a pass-through codec, bulk data
// server -> client in messages of at most 1 MiB with 'drain' backpressure,
// `grpc-node.flow_control_window` 1 MiB. It is what tsmpi's network path is
// built on, so `tsmpi ÷ grpc-js` is the cost of tsmpi's own layers.
//   node bench/.build/grpc-baseline.mjs [--quick] [--sizes=B,...]   (compiled by bench/run.ts; prints JSON rows)
// Latency: the client sends `bytes`, the server echoes them. Bandwidth: one
// request, then the server streams `count` messages of `bytes` without a
// pause; the rate is taken after the first quarter (the warm-up).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { iterations, median, suiteSizes, window, type Row } from './common.js';
import type { TlsMaterial } from './material.js';
import { ByteReader, runPair } from './pair.js';

const quick = process.argv.includes('--quick');
const CHUNK = 1 << 20;
const LIMIT = 256 << 20;
const PATH = '/tsmpi.bench.Baseline/Stream';
const pass = (b: Buffer): Buffer => b;
const service: grpc.ServiceDefinition = {
  stream: { path: PATH, requestStream: true, responseStream: true, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass },
};

async function serve(material: TlsMaterial): Promise<void> {
  const server = new grpc.Server({ 'grpc.max_send_message_length': LIMIT, 'grpc.max_receive_message_length': LIMIT });
  server.addService(service, {
    stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const chunk = Buffer.alloc(CHUNK);
      let tail = Promise.resolve();
      call.on('data', (request: Buffer) => {
        tail = tail.then(async () => {
          // A 9-byte request [0x42, bytes, count] asks for a stream; anything else is echoed.
          if (request.length !== 9 || request[0] !== 0x42) {
            call.write(request);
            return;
          }
          const bytes = request.readUInt32BE(1);
          let left = request.readUInt32BE(5) * Math.ceil(bytes / CHUNK);
          const message = chunk.subarray(0, Math.min(CHUNK, bytes));
          await new Promise<void>((resolve) => {
            const pump = (): void => {
              while (left > 0) {
                left--;
                if (!call.write(message)) return void call.once('drain', pump);
              }
              resolve();
            };
            pump();
          });
        });
      });
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(Buffer.from(material.caPem), [{ private_key: Buffer.from(material.keyPem), cert_chain: Buffer.from(material.certPem) }], true), (error, p) => (error ? reject(error) : resolve(p))),
  );
  process.stdout.write(`${port}\n`);
}

async function client(material: TlsMaterial, port: number): Promise<Row[]> {
  const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(material.caPem), Buffer.from(material.keyPem), Buffer.from(material.certPem), {
    checkServerIdentity: () => undefined, // the job CA is the only trust anchor; its certificates name ranks, not hosts
  }), {
    'grpc.ssl_target_name_override': 'tsmpi',
    'grpc-node.flow_control_window': CHUNK,
    'grpc.max_receive_message_length': LIMIT,
    'grpc.max_send_message_length': LIMIT,
  });
  const call = c.makeBidiStreamRequest(PATH, pass, pass) as grpc.ClientDuplexStream<Buffer, Buffer>;
  const receiver = new ByteReader(call);
  const rows: Row[] = [];
  const now = (): number => Number(process.hrtime.bigint()) / 1e3;
  const sizes = suiteSizes();
  for (const bytes of sizes.latency) {
    const { warmup, timed } = iterations(bytes, quick);
    const buf = Buffer.alloc(bytes, 1);
    const rtts: number[] = [];
    for (let i = 0; i < warmup + timed; i++) {
      const t = now();
      call.write(buf);
      await receiver.take(bytes);
      if (i >= warmup) rtts.push(now() - t);
    }
    rows.push({ stack: 'grpc-js', test: 'latency', np: 2, bytes, value: median(rtts) / 2, unit: 'us' });
  }
  for (const bytes of sizes.bandwidth) {
    // As much as the window protocol of the other stacks moves in all its iterations, at least 256 MiB.
    const { warmup, timed } = iterations(bytes * window(bytes), quick);
    const count = Math.max(4, Math.ceil(Math.max(quick ? 8 << 20 : 256 << 20, bytes * window(bytes) * (warmup + timed)) / bytes));
    const warm = Math.ceil(count / 4);
    const request = Buffer.alloc(9);
    request[0] = 0x42;
    request.writeUInt32BE(bytes, 1);
    request.writeUInt32BE(count, 5);
    call.write(request);
    await receiver.take(bytes * warm);
    const t = now();
    await receiver.take(bytes * (count - warm));
    rows.push({ stack: 'grpc-js', test: 'bw', np: 2, bytes, value: (bytes * (count - warm)) / (now() - t), unit: 'MB/s' });
  }
  call.on('error', () => undefined);
  call.cancel();
  c.close();
  return rows;
}

await runPair(fileURLToPath(import.meta.url), serve, client);
